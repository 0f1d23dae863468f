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
//   load  --runs runs, --concurrency at once: throughput, and p50/p99;
//         and the CPU each run cost this process, its busiest thread (for
//         a front: the middleman's I/O thread, which every message to and
//         from workers goes through) and the worker (idle in local mode),
//         from /proc: the per-run costs a scale-out estimate starts from.
// The table gives the medians over rounds and the cluster/local ratios.
// Both ends trace to files in a scratch folder, as a deployment would.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
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
  // CPU per run (load only): this process, its busiest thread, the worker.
  double front_cpu_us = 0, front_top_thread_us = 0, worker_cpu_us = 0;
};

// CPU time of a process, or of each of its threads, from /proc (utime +
// stime, in clock ticks): what the hop costs each end, and how much of it
// lands on one thread (a front's I/O thread serialises every message).
double ticks_ms(const std::string& stat_path) {
  std::ifstream f(stat_path);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream in(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double process_cpu_ms(pid_t pid) { return ticks_ms("/proc/" + std::to_string(pid) + "/stat"); }

std::map<std::string, double> thread_cpu_ms(pid_t pid) {
  std::map<std::string, double> out;
  const auto dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : std::filesystem::directory_iterator(dir))
    out[e.path().filename().string()] = ticks_ms((e.path() / "stat").string());
  return out;
}

// The most CPU any one thread took between two snapshots.
double busiest(const std::map<std::string, double>& before,
               const std::map<std::string, double>& after) {
  double top = 0;
  for (const auto& [tid, ms] : after) {
    auto b = before.find(tid);
    top = std::max(top, ms - (b == before.end() ? 0 : b->second));
  }
  return top;
}

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
      const double f0 = process_cpu_ms(getpid()), w0 = process_cpu_ms(worker.pid());
      const auto t0 = thread_cpu_ms(getpid());
      auto load = drive(eng, f, runs, window);
      const auto t1 = thread_cpu_ms(getpid());
      load.front_cpu_us = (process_cpu_ms(getpid()) - f0) * 1000.0 / runs;
      load.front_top_thread_us = busiest(t0, t1) * 1000.0 / runs;
      load.worker_cpu_us = (process_cpu_ms(worker.pid()) - w0) * 1000.0 / runs;
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
  row("load CPU us/run, this", local_load, cluster_load, &figures::front_cpu_us);
  row("  its busiest thread", local_load, cluster_load, &figures::front_top_thread_us);
  row("load CPU us/run, wkr", local_load, cluster_load, &figures::worker_cpu_us);
  worker.stop(SIGTERM);
  return 0;
}
