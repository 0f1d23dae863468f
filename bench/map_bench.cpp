// weft_map_bench: a `map` of 10,000 items over a one-node sub-flow (inline),
// tracing on (file sink): items per second, side by side for a few values
// of max_concurrency, and with tracing off for the ratio. Each item is a
// child run: its run actor, one node actor, two spans.
//
// Usage: weft_map_bench [--rounds N] [--items N] [--trace-file PATH]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "actors/engine_internals.hpp"
#include "bench_util.hpp"

using namespace weft;
using weft::bench::median;
using clock_type = std::chrono::steady_clock;

namespace {

std::string map_flow(int concurrency, int items) {
  return "flow: map_bench\ninputs: {xs: {type: array}}\nnodes:\n  each:\n    type: map\n"
         "    params:\n      max_concurrency: " +
         std::to_string(concurrency) + "\n      max_items: " + std::to_string(items) +
         "\n      output: v\n      flow:\n        inputs: {item: {type: any}}\n"
         "        nodes:\n          p: {type: passthrough, inputs: {value: $inputs.item}}\n"
         "        outputs: {v: p.value}\n    inputs: {items: $inputs.xs}\noutputs: {r: "
         "each.results}\n";
}

struct result {
  double items_per_s = 0;          // run start to result
  double items_per_s_flushed = 0;  // ... to every span written
};

result one_round(bool tracing, int concurrency, int items, const std::string& trace_file) {
  std::filesystem::remove(trace_file);
  engine_options o;
  o.tracing = tracing;
  o.settings.tracing.trace_file = trace_file;
  engine eng(std::move(o));
  auto loaded = eng.load_string(map_flow(concurrency, items));
  if (!loaded) {
    for (auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
    std::exit(1);
  }
  value xs = value::array();
  for (int i = 0; i < items; ++i) xs.push_back(i);
  auto t0 = clock_type::now();
  auto r = eng.run(loaded.flow, {{"xs", std::move(xs)}}).get();
  auto t1 = clock_type::now();
  eng.shutdown();
  auto t2 = clock_type::now();
  if (!r.ok || r.outputs.at("r").size() != static_cast<std::size_t>(items)) {
    std::fprintf(stderr, "run failed: %s\n", r.error.c_str());
    std::exit(1);
  }
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  return {items / secs(t0, t1), items / secs(t0, t2)};
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, items = 10000;
  std::string trace_file =
      (std::filesystem::temp_directory_path() / "weft-map-bench.jsonl").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--items")) items = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--trace-file")) trace_file = argv[i + 1];
  }
  const std::vector<int> concurrencies = {8, 64, 512};
  std::printf("map of %d items over a one-node sub-flow, %d rounds, settings interleaved\n", items,
              rounds);
  struct series {
    std::vector<double> run, flushed;
  };
  std::vector<series> on(concurrencies.size()), off(concurrencies.size());
  for (int r = 0; r < rounds; ++r) {
    for (std::size_t c = 0; c < concurrencies.size(); ++c) {
      auto a = one_round(true, concurrencies[c], items, trace_file);
      auto b = one_round(false, concurrencies[c], items, trace_file);
      on[c].run.push_back(a.items_per_s);
      on[c].flushed.push_back(a.items_per_s_flushed);
      off[c].run.push_back(b.items_per_s);
      off[c].flushed.push_back(b.items_per_s_flushed);
      std::printf(
          "round %d  max_concurrency %4d  on %8.0f items/s (%8.0f flushed)  off %8.0f items/s\n",
          r + 1, concurrencies[c], a.items_per_s, a.items_per_s_flushed, b.items_per_s);
      std::fflush(stdout);
    }
  }
  std::printf(
      "\nmedians (items/s)\nmax_concurrency   tracing on   on, flushed   tracing off   on/off\n");
  for (std::size_t c = 0; c < concurrencies.size(); ++c) {
    double a = median(on[c].run), f = median(on[c].flushed), b = median(off[c].run);
    std::printf("%15d   %10.0f   %11.0f   %11.0f   %6.3f\n", concurrencies[c], a, f, b, a / b);
  }
  std::filesystem::remove(trace_file);
  return 0;
}
