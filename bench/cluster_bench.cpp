// weft_cluster_bench: what the hop to a `weft worker` costs. chain10 runs
// in this process, then the same runs sent by a front engine (this
// process) to one worker process on loopback, one after the other in every
// round so that both share the machine.
//
//   ./build/weft_cluster_bench [--rounds 3] [--runs 5000] [--concurrency 64] [--seq-runs 1000]
//
// Per round and mode:
//   seq   --seq-runs runs one at a time: the latency a run sees, p50 and
//         p99 (what the hop adds to one run);
//   load  --runs runs, --concurrency at once: throughput, and p50/p99.
// The table gives the medians over rounds and the cluster/local ratios.
// Both ends trace to files in a scratch folder, as a deployment would.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "support/flow_dir.hpp"
#include "support/serve_process.hpp"
#include "weft/weft.hpp"

using namespace std::chrono;

namespace {

struct figures {
  double runs_per_s = 0, p50_ms = 0, p99_ms = 0;
  int failed = 0;
};

figures drive(weft::engine& eng, const weft::flow& f, int runs, int window) {
  std::vector<double> lat(static_cast<std::size_t>(runs));
  std::mutex mu;
  std::condition_variable cv;
  int next = 0, done = 0, failed = 0;
  const weft::value_map in{{"value", "x"}};
  std::function<void()> start = [&] {
    int i;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (next >= runs) return;
      i = next++;
    }
    auto t0 = steady_clock::now();
    eng.run(f, in, {}, [&, i, t0](weft::run_result r) {
      // Under the lock, and the next start only while runs remain: after
      // the last one is counted, drive() may have returned.
      bool more;
      {
        std::lock_guard<std::mutex> lk(mu);
        lat[static_cast<std::size_t>(i)] =
            duration<double, std::milli>(steady_clock::now() - t0).count();
        if (!r.ok) ++failed;
        ++done;
        more = next < runs;
        cv.notify_all();
      }
      if (more) start();
    });
  };
  auto t0 = steady_clock::now();
  for (int k = 0; k < window; ++k) start();
  std::unique_lock<std::mutex> lk(mu);
  cv.wait(lk, [&] { return done == runs; });
  figures out;
  out.runs_per_s = runs / duration<double>(steady_clock::now() - t0).count();
  out.p50_ms = weft::bench::percentile_of(lat, 0.5);
  out.p99_ms = weft::bench::percentile_of(lat, 0.99);
  out.failed = failed;
  return out;
}

weft::engine_options options(const std::filesystem::path& trace, std::string worker = {}) {
  weft::engine_options o;
  o.settings.tracing.trace_file = trace.string();
  if (!worker.empty()) {
    o.workers = {std::move(worker)};
    o.cluster_key = "bench-key";
    o.local_fallback = false;
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, runs = 5000, window = 64, seq_runs = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--rounds") rounds = v;
    else if (a == "--runs") runs = v;
    else if (a == "--concurrency") window = v;
    else if (a == "--seq-runs") seq_runs = v;
    else {
      std::cerr << "unknown option " << a << '\n';
      return 2;
    }
  }
  weft::test::flow_dir dir;
  dir.write("flows/chain10.yaml", weft::bench::chain10());
  weft::test::worker_process worker({"--flows", (dir.path() / "flows").string(), "--trace-file",
                                     (dir.path() / "worker.jsonl").string()},
                                    {"WEFT_CLUSTER_KEY=bench-key"});
  if (!worker.port()) {
    std::cerr << "the worker did not start:\n" << worker.err() << '\n';
    return 1;
  }
  const std::string at = "127.0.0.1:" + std::to_string(worker.port());
  std::vector<figures> local_seq, cluster_seq, local_load, cluster_load;
  for (int r = 0; r < rounds; ++r) {
    for (bool remote : {false, true}) {
      weft::engine eng(options(dir.path() / (remote ? "front.jsonl" : "local.jsonl"),
                               remote ? at : std::string()));
      if (remote && !eng.wait_for_workers(1, seconds(10))) {
        std::cerr << "the front did not connect to " << at << '\n';
        return 1;
      }
      auto f = eng.load_string(weft::bench::chain10()).flow;
      drive(eng, f, 200, 16);  // warm-up: connections, allocator, caches
      auto seq = drive(eng, f, seq_runs, 1);
      auto load = drive(eng, f, runs, window);
      (remote ? cluster_seq : local_seq).push_back(seq);
      (remote ? cluster_load : local_load).push_back(load);
      eng.shutdown();
      if (seq.failed + load.failed > 0) {
        std::cerr << (remote ? "cluster" : "local") << ": " << seq.failed + load.failed
                  << " run(s) failed\n";
        return 1;
      }
    }
  }
  auto med = [](const std::vector<figures>& v, double figures::*m) {
    std::vector<double> x;
    for (const auto& f : v) x.push_back(f.*m);
    return weft::bench::median(x);
  };
  std::printf(
      "chain10, %d round(s); medians over rounds; cluster = this process -> 1 worker "
      "process on loopback\n",
      rounds);
  std::printf("%-22s %12s %12s %8s\n", "", "local", "cluster", "ratio");
  auto row = [&](const char* name, const std::vector<figures>& a, const std::vector<figures>& b,
                 double figures::*m) {
    const double x = med(a, m), y = med(b, m);
    std::printf("%-22s %12.3f %12.3f %8.2f\n", name, x, y, x > 0 ? y / x : 0);
  };
  row("seq p50 ms", local_seq, cluster_seq, &figures::p50_ms);
  row("seq p99 ms", local_seq, cluster_seq, &figures::p99_ms);
  row("seq runs/s", local_seq, cluster_seq, &figures::runs_per_s);
  row("load runs/s", local_load, cluster_load, &figures::runs_per_s);
  row("load p50 ms", local_load, cluster_load, &figures::p50_ms);
  row("load p99 ms", local_load, cluster_load, &figures::p99_ms);
  worker.stop(SIGTERM);
  return 0;
}
