// weft_ab_bench: two `weft` binaries (or one binary under two environments)
// loaded side by side. Each round runs `A load FLOW` and then `B load FLOW`
// as child processes, one after the other, so both see the same machine
// noise; it parses the runs/s and latency lines each prints, and reports
// per-round figures, medians and the B/A ratios.
//
// Usage:
//   weft_ab_bench --a PATH --b PATH [--flow FILE] [--rounds N] [--runs N]
//                 [--concurrency C] [--tracing-off] [--a-env K=V]... [--b-env K=V]...
//                 [--trace-dir DIR] [--abba]
//
// --abba: B goes first in every other round (A B, B A, A B, ...), which
// cancels a steady drift of the machine's load out of the round ratios.
// Tracing is on by default: each child writes its spans to its own file
// (WEFT_TRACE_FILE=DIR/weft-ab-<pid>-<side><round>.jsonl, deleted after the
// round). --tracing-off sets WEFT_TRACE_SAMPLE=0 for both sides (no span is
// recorded; `weft load` has no switch that removes the sink itself).
// --a-env/--b-env add environment variables to one side only, e.g.
// `--a PATH --b PATH --a-env WEFT_TRACE_SAMPLE=0` for tracing on/off of one
// binary (B/A is then on/off).
//
// The runs/s figure is `weft load`'s own: its clock stops when the last run
// has answered, before the engine's shutdown flush and the trace audit.
// Each side's CPU time (user + system, from wait4) is reported too: on a
// shared machine it moves less with other load than runs/s does, but it
// covers the whole process, the flush and the audit included.
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_util.hpp"

extern char** environ;

using weft::bench::median;

namespace {

struct side {
  std::string name;  // "A" or "B"
  std::string binary;
  std::vector<std::string> env;  // extra K=V
};

struct load_figures {
  bool ok = false;
  double runs_per_s = 0, p50_ms = 0, p99_ms = 0;
  long long failed = 0, audit_problems = -1;
  double wall_s = 0;  // the whole child process, audit included
  double cpu_s = 0;   // its user + system CPU time, audit included
  std::string output;
};

// Runs argv with the environment plus `extra`, stdout and stderr into one
// pipe; returns what it printed, its CPU time and whether it exited 0.
bool run_child(const std::vector<std::string>& argv, const std::vector<std::string>& extra,
               std::string& output, double& cpu_s) {
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (auto& x : extra)
      if (kv.compare(0, x.find('=') + 1, x, 0, x.find('=') + 1) == 0) overridden = true;
    if (!overridden) env_store.push_back(kv);
  }
  for (auto& x : extra) env_store.push_back(x);
  std::vector<char*> envp, args;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_store = argv;
  for (auto& s : argv_store) args.push_back(s.data());
  args.push_back(nullptr);

  int fds[2];
  if (::pipe(fds) != 0) return false;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    output = std::string("cannot start ") + argv[0] + ": " + std::strerror(rc);
    return false;
  }
  char buf[4096];
  for (;;) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) output.append(buf, static_cast<std::size_t>(n));
    else if (n == 0 || errno != EINTR) break;
  }
  ::close(fds[0]);
  int status = 0;
  rusage ru{};
  while (::wait4(pid, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  auto secs = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
  };
  cpu_s = secs(ru.ru_utime) + secs(ru.ru_stime);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

load_figures parse(const std::string& out) {
  load_figures f;
  f.output = out;
  bool have_runs = false, have_lat = false;
  std::size_t pos = 0;
  while (pos < out.size()) {
    auto eol = out.find('\n', pos);
    std::string line = out.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    pos = eol == std::string::npos ? out.size() : eol + 1;
    long long runs = 0, ok = 0, failed = 0;
    double secs = 0, rps = 0, p50 = 0, p90 = 0, p99 = 0, mx = 0;
    std::size_t traces = 0, spans = 0, problems = 0;
    if (std::sscanf(line.c_str(), "runs %lld ok %lld failed %lld in %lf s (%lf runs/s)", &runs, &ok,
                    &failed, &secs, &rps) == 5) {
      // Recomputed from the duration: the printed figure is rounded to 1 run/s.
      f.runs_per_s = secs > 0 ? static_cast<double>(runs) / secs : rps;
      f.failed = failed;
      have_runs = true;
    } else if (std::sscanf(line.c_str(), "latency ms p50 %lf p90 %lf p99 %lf max %lf", &p50, &p90,
                           &p99, &mx) == 4) {
      f.p50_ms = p50;
      f.p99_ms = p99;
      have_lat = true;
    } else if (std::sscanf(line.c_str(), "audit traces %zu spans %zu problems %zu", &traces, &spans,
                           &problems) == 3) {
      f.audit_problems = static_cast<long long>(problems);
    }
  }
  f.ok = have_runs && have_lat;
  return f;
}

load_figures load_once(const side& s, const std::string& flow, int runs, int concurrency,
                       bool tracing_off, const std::string& trace_file) {
  std::vector<std::string> argv = {s.binary,
                                   "load",
                                   flow,
                                   "--runs",
                                   std::to_string(runs),
                                   "--concurrency",
                                   std::to_string(concurrency),
                                   "--no-progress"};
  std::vector<std::string> env = {"WEFT_TRACE_FILE=" + trace_file};
  if (tracing_off) env.emplace_back("WEFT_TRACE_SAMPLE=0");
  for (auto& e : s.env) env.push_back(e);
  std::filesystem::remove(trace_file);
  std::string out;
  auto t0 = std::chrono::steady_clock::now();
  double cpu = 0;
  bool exited_ok = run_child(argv, env, out, cpu);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::filesystem::remove(trace_file);
  auto f = parse(out);
  f.wall_s = wall;
  f.cpu_s = cpu;
  if (!exited_ok || !f.ok) {
    std::fprintf(stderr, "%s (%s) did not exit cleanly or printed no figures:\n%s\n",
                 s.name.c_str(), s.binary.c_str(), out.c_str());
    f.ok = f.ok && exited_ok;
  }
  return f;
}

// The 1-minute load average, as a note on how busy the machine was.
double load_average() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

std::string describe(const side& s) {
  std::string d = s.binary;
  for (auto& e : s.env) d += "  [" + e + "]";
  return d;
}

void usage() {
  std::fprintf(
      stderr,
      "usage: weft_ab_bench --a PATH --b PATH [--flow FILE] [--rounds N] [--runs N]\n"
      "                     [--concurrency C] [--tracing-off] [--a-env K=V]... [--b-env K=V]...\n"
      "                     [--trace-dir DIR] [--abba]\n");
}

}  // namespace

int main(int argc, char** argv) {
  side a{"A", "", {}}, b{"B", "", {}};
  std::string flow = "examples/chain10.yaml";
  std::string trace_dir = std::filesystem::temp_directory_path().string();
  int rounds = 7, runs = 30000, concurrency = 64;
  bool tracing_off = false, abba = false;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--tracing-off" || k == "--abba") {
      (k == "--abba" ? abba : tracing_off) = true;
      continue;
    }
    if (i + 1 >= argc) {
      usage();
      return 2;
    }
    std::string v = argv[++i];
    if (k == "--a") a.binary = v;
    else if (k == "--b") b.binary = v;
    else if (k == "--flow") flow = v;
    else if (k == "--rounds") rounds = std::atoi(v.c_str());
    else if (k == "--runs") runs = std::atoi(v.c_str());
    else if (k == "--concurrency") concurrency = std::atoi(v.c_str());
    else if (k == "--a-env") a.env.push_back(v);
    else if (k == "--b-env") b.env.push_back(v);
    else if (k == "--trace-dir") trace_dir = v;
    else {
      usage();
      return 2;
    }
  }
  if (a.binary.empty() || b.binary.empty() || rounds < 1 || runs < 1 || concurrency < 1) {
    usage();
    return 2;
  }
  for (auto* s : {&a, &b})
    for (auto& e : s->env)
      if (e.find('=') == std::string::npos || e.front() == '=') {
        std::fprintf(stderr, "weft_ab_bench: %s-env '%s': expected K=V\n", s->name.c_str(),
                     e.c_str());
        return 2;
      }

  std::printf("A: %s\nB: %s\n", describe(a).c_str(), describe(b).c_str());
  std::printf("%s, concurrency %d, %d runs per load, %d rounds (%s), tracing %s\n", flow.c_str(),
              concurrency, runs, rounds, abba ? "A B, then B A, alternately" : "A then B",
              tracing_off ? "off (WEFT_TRACE_SAMPLE=0)" : "on (file sink)");
  std::fflush(stdout);
  std::vector<double> a_rps, b_rps, a_p50, b_p50, a_p99, b_p99, ratio, a_cpu, b_cpu, cpu_ratio;
  int bad = 0;
  auto prefix = trace_dir + "/weft-ab-" + std::to_string(::getpid()) + "-";
  for (int r = 1; r <= rounds; ++r) {
    double load1 = load_average();
    load_figures fa, fb;
    auto file_a = prefix + "A" + std::to_string(r) + ".jsonl",
         file_b = prefix + "B" + std::to_string(r) + ".jsonl";
    if (abba && r % 2 == 0) {
      fb = load_once(b, flow, runs, concurrency, tracing_off, file_b);
      fa = load_once(a, flow, runs, concurrency, tracing_off, file_a);
    } else {
      fa = load_once(a, flow, runs, concurrency, tracing_off, file_a);
      fb = load_once(b, flow, runs, concurrency, tracing_off, file_b);
    }
    std::printf(
        "  round %d (load %.2f): A %6.0f runs/s p50 %5.2f p99 %6.2f ms cpu %5.2f s | B %6.0f "
        "runs/s "
        "p50 %5.2f p99 %6.2f ms cpu %5.2f s | B/A %.3f\n",
        r, load1, fa.runs_per_s, fa.p50_ms, fa.p99_ms, fa.cpu_s, fb.runs_per_s, fb.p50_ms,
        fb.p99_ms, fb.cpu_s, fa.runs_per_s > 0 ? fb.runs_per_s / fa.runs_per_s : 0.0);
    for (auto* f : {&fa, &fb})
      if (f->failed || f->audit_problems > 0) {
        std::printf("           %s: failed runs %lld, audit problems %lld\n", f == &fa ? "A" : "B",
                    f->failed, f->audit_problems);
      }
    std::fflush(stdout);
    if (!fa.ok || !fb.ok) {
      ++bad;
      continue;
    }
    a_rps.push_back(fa.runs_per_s);
    b_rps.push_back(fb.runs_per_s);
    a_p50.push_back(fa.p50_ms);
    b_p50.push_back(fb.p50_ms);
    a_p99.push_back(fa.p99_ms);
    b_p99.push_back(fb.p99_ms);
    ratio.push_back(fb.runs_per_s / fa.runs_per_s);
    a_cpu.push_back(fa.cpu_s);
    b_cpu.push_back(fb.cpu_s);
    cpu_ratio.push_back(fb.cpu_s / fa.cpu_s);
  }
  if (a_rps.empty()) {
    std::printf("no round produced figures\n");
    return 1;
  }
  std::printf(
      "medians over %zu rounds%s\n", a_rps.size(),
      bad ? (" (" + std::to_string(bad) + " round(s) left out: a side failed)").c_str() : "");
  std::printf("  A: %6.0f runs/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.2f s\n", median(a_rps),
              median(a_p50), median(a_p99), median(a_cpu));
  std::printf("  B: %6.0f runs/s  p50 %6.2f ms  p99 %6.2f ms  cpu %5.2f s\n", median(b_rps),
              median(b_p50), median(b_p99), median(b_cpu));
  auto sorted = ratio;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "  B/A runs/s: ratio of medians %.3f, median of round ratios %.3f (rounds %.3f-%.3f)\n",
      median(b_rps) / median(a_rps), median(ratio), sorted.front(), sorted.back());
  std::printf(
      "  B/A CPU time per load (process total, trace audit included): median of round ratios "
      "%.3f\n",
      median(cpu_ratio));
  return bad ? 1 : 0;
}
