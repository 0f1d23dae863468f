// weft_bench: the issue-2 performance figures, measured side by side.
//
//   chain10 runs/s at concurrency 64, tracing on (file sink) vs off, in
//   alternating rounds so that both see the same machine noise; medians.
//   chain10 latency p99 at concurrency 1,000, tracing on.
//   RSS per in-flight run, with 10,000 runs parked in a sleep node, each
//   time in a fresh process (the bench runs itself with --parked): after the
//   throughput rounds, the heap would already hold room for the parked runs,
//   and the figure would be near zero.
//
// Usage: weft_bench [--rounds N] [--runs N] [--trace-file PATH]
//        weft_bench --parked N     (only the parked-run figure, in this process)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine_internals.hpp"
#include "bench_util.hpp"

using namespace weft;
using weft::bench::chain10;
using weft::bench::median;
using weft::bench::rss_kib;
using clock_type = std::chrono::steady_clock;

namespace {

struct round_result {
  double runs_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
};

// Runs `total` runs keeping `concurrency` in flight; the clock includes the
// engine's shutdown flush, so tracing's full cost is on the bill.
round_result drive(bool tracing, const std::string& trace_file, int total, int concurrency) {
  engine_options o;
  o.tracing = tracing;
  o.settings.tracing.trace_file = trace_file;
  engine eng(std::move(o));
  auto flow = eng.load_string(chain10()).flow.plan();
  struct shared {
    engine* eng;
    std::shared_ptr<const flows::plan> flow;
    int total;
    std::atomic<int> next{0}, done{0};
    std::vector<clock_type::time_point> t0;
    std::vector<double> lat;
    std::mutex mu;
    std::condition_variable cv;
  };
  auto s = std::make_shared<shared>();
  s->eng = &eng;
  s->flow = flow;
  s->total = total;
  s->t0.resize(static_cast<std::size_t>(total));
  s->lat.resize(static_cast<std::size_t>(total));
  std::function<void(int)> start = [s, &start](int i) {
    s->t0[static_cast<std::size_t>(i)] = clock_type::now();
    s->eng->run(s->flow, {{"value", "x"}}, {}, [s, i, &start](run_result r) {
      if (!r.ok) std::fprintf(stderr, "run failed: %s\n", r.error.c_str());
      s->lat[static_cast<std::size_t>(i)] =
          std::chrono::duration<double, std::milli>(clock_type::now() -
                                                    s->t0[static_cast<std::size_t>(i)])
              .count();
      int n = s->next.fetch_add(1);
      if (n < s->total) start(n);
      if (s->done.fetch_add(1) + 1 == s->total) {
        std::lock_guard<std::mutex> lk(s->mu);
        s->cv.notify_all();
      }
    });
  };
  auto begin = clock_type::now();
  s->next = concurrency;
  for (int i = 0; i < concurrency; ++i) start(i);
  {
    std::unique_lock<std::mutex> lk(s->mu);
    s->cv.wait(lk, [&] { return s->done.load() == total; });
  }
  eng.shutdown();
  double secs = std::chrono::duration<double>(clock_type::now() - begin).count();
  std::sort(s->lat.begin(), s->lat.end());
  return {total / secs, weft::bench::percentile(s->lat, 0.5),
          weft::bench::percentile(s->lat, 0.99)};
}

void parked_rss(int parked) {
  engine_options o;
  o.settings.tracing.trace_file = "bench-parked.jsonl";
  engine eng(std::move(o));
  auto flow = eng.load_string(
                     "flow: parked\nnodes: {z: {type: sleep, params: {ms: 3000}, inputs: {value: "
                     "$inputs.v}}}\n"
                     "inputs: {v: {type: integer}}\noutputs: {v: z.value}\n")
                  .flow;
  // Warm up allocator pools and the actor system with one batch first, so the
  // measured delta is the runs', not first-use costs.
  std::vector<std::future<run_result>> warm;
  for (int i = 0; i < 100; ++i) warm.push_back(eng.run(flow, {{"v", i}}));
  for (auto& f : warm) f.get();
  long before = rss_kib();
  std::vector<std::future<run_result>> fs;
  fs.reserve(static_cast<std::size_t>(parked));
  for (int i = 0; i < parked; ++i) fs.push_back(eng.run(flow, {{"v", i}}));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  long during = rss_kib();
  long in_flight = eng.runs_in_flight();
  for (auto& f : fs) f.get();
  eng.shutdown();
  std::printf("parked runs: %d (in flight at measurement: %ld)\n", parked, in_flight);
  std::printf("RSS before %ld KiB, with runs parked %ld KiB, per in-flight run %.2f KiB\n", before,
              during, static_cast<double>(during - before) / parked);
  std::filesystem::remove("bench-parked.jsonl");
}

// The parked-run figure from fresh processes: this binary with --parked,
// three times; each prints its own line, and the median is taken here.
void parked_rss_fresh(int parked, int times) {
  std::vector<double> per_run;
  // Resolved here: popen runs a shell, whose /proc/self/exe is the shell.
  std::error_code ec;
  const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    std::printf("parked: cannot find this binary: %s\n", ec.message().c_str());
    return;
  }
  for (int i = 0; i < times; ++i) {
    const std::string cmd = "'" + self.string() + "' --parked " + std::to_string(parked);
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) {
      std::printf("parked: could not start %s\n", cmd.c_str());
      return;
    }
    char line[512];
    while (std::fgets(line, sizeof line, p)) {
      std::printf("  fresh process %d: %s", i + 1, line);
      double kib = 0;
      if (const char* at = std::strstr(line, "per in-flight run ");
          at && std::sscanf(at, "per in-flight run %lf", &kib) == 1)
        per_run.push_back(kib);
    }
    ::pclose(p);
  }
  if (!per_run.empty())
    std::printf("median over %zu fresh processes: %.2f KiB per parked run\n", per_run.size(),
                median(per_run));
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, runs = 50000;
  std::string trace_file = "bench-traces.jsonl";
  if (argc == 3 && !std::strcmp(argv[1], "--parked")) {
    parked_rss(std::atoi(argv[2]));
    return 0;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--trace-file")) trace_file = argv[i + 1];
  }
  std::printf("machine: %u hardware threads\n", std::thread::hardware_concurrency());
  std::printf("chain10, concurrency 64, %d runs per round, %d rounds alternating on/off\n", runs,
              rounds);
  std::vector<double> on, off, ratio;
  for (int r = 0; r < rounds; ++r) {
    std::filesystem::remove(trace_file);
    auto a = drive(false, trace_file, runs, 64);
    auto b = drive(true, trace_file, runs, 64);
    off.push_back(a.runs_per_s);
    on.push_back(b.runs_per_s);
    ratio.push_back(b.runs_per_s / a.runs_per_s);
    std::printf("  round %d: off %.0f runs/s, on %.0f runs/s, on/off %.3f\n", r + 1, a.runs_per_s,
                b.runs_per_s, b.runs_per_s / a.runs_per_s);
  }
  std::printf("median: off %.0f runs/s, on %.0f runs/s, on/off ratio %.3f\n", median(off),
              median(on), median(ratio));

  std::printf("chain10, concurrency 1000, tracing on, %d rounds\n", rounds);
  std::vector<double> p99s, p50s, tput;
  for (int r = 0; r < rounds; ++r) {
    std::filesystem::remove(trace_file);
    auto x = drive(true, trace_file, runs, 1000);
    p99s.push_back(x.p99_ms);
    p50s.push_back(x.p50_ms);
    tput.push_back(x.runs_per_s);
    std::printf("  round %d: %.0f runs/s, p50 %.2f ms, p99 %.2f ms\n", r + 1, x.runs_per_s,
                x.p50_ms, x.p99_ms);
  }
  std::printf("median: %.0f runs/s, p50 %.2f ms, p99 %.2f ms\n", median(tput), median(p50s),
              median(p99s));
  std::filesystem::remove(trace_file);
  std::printf("RSS per parked run (10,000 in a sleep node), in fresh processes\n");
  parked_rss_fresh(10000, 3);
}
