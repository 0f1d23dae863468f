// weft_llm_bench: the `llm.chat` node against a loopback Chat Completions
// server (tests/support/chat_server.hpp, one poll() thread, answers at once,
// nothing recorded per request). Three figures:
//
//   1. calls/s: a one-node llm.chat flow, non-streamed, N runs with C in
//      flight through engine::run(plan, inputs, opts, done); tracing on
//      (file sink to a temporary file) and off, in alternating rounds (the
//      order flips every round); per round calls/s (the clock stops at the
//      last answer; the shutdown flush is timed apart and also folded into
//      a second rate), p50/p99 from run start to its answer; medians.
//   2. chunk events/s: the same node with `stream: true`, every reply 200
//      content deltas, an on_event observer counting chunk events and
//      joining each run's chunks, which must equal the run's `text` output
//      (mismatches are counted and fail the bench). Tracing on.
//   3. RSS per parked streaming call: P runs whose streams stop after a few
//      events and stay open (park_after_events). Once the server holds P
//      parked streams and the engine has delivered every chunk sent before
//      the park, VmRSS is read again; (parked - before) / P. Then the runs'
//      own timeout (run_options::timeout_ms) ends them, and the bench checks
//      that every run timed out and the server saw every connection close.
//      Part 3 runs first, each measurement in a process forked for it
//      (memory other parts freed, and the allocator kept, would otherwise
//      be reused and hide the cost): a) the server in the same process
//      (engine + server per call); b) the server in a process of its own,
//      so the bench process holds the engine's share and the server
//      process's VmRSS delta is the server's; c) no engine: the same
//      streams parked by one bare libcurl multi loop (libcurl's share).
//      The engine's per-host connection limit is raised to P (default 64:
//      the rest would wait inside libcurl without a connection).
//
// Usage: weft_llm_bench [--rounds N] [--runs N] [--concurrency C]
//                       [--stream-runs N] [--deltas N] [--parked N]
//                       [--park-after N] [--park-timeout-ms MS]
//                       [--trace-file PATH]
// --runs 0, --stream-runs 0 or --parked 0 skips that part. Without
// --trace-file the spans go to a temporary file, deleted after each round.
// Exits 1 when a run failed (other than the parked runs' expected
// timeouts), a chunk check failed, or the parked streams never all parked.
#include <curl/curl.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine_internals.hpp"
#include "bench_util.hpp"
#include "support/chat_server.hpp"
#include "support/proc_status.hpp"

using namespace weft;
using weft::bench::median;
using weft::test::chat_reply;
using weft::test::chat_request;
using weft::test::chat_server;
using clock_type = std::chrono::steady_clock;

namespace {

bool keep_trace = false;  // --trace-file given: leave the last round's spans there
long failures = 0;        // anything that makes the exit status 1

double secs_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

long self_rss() { return weft::test::rss_kib(::getpid()); }

// --- CPU time per thread, to tell whether the chat server's thread was the
// bottleneck: its tid is the one that appears when it is constructed.

std::set<long> thread_ids() {
  std::set<long> out;
  if (DIR* d = ::opendir("/proc/self/task")) {
    while (dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.insert(std::atol(e->d_name));
    ::closedir(d);
  }
  return out;
}

double thread_cpu_seconds(long tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  // After "pid (comm) ": state is field 3; utime and stime are fields 14, 15.
  std::vector<std::string> fields;
  std::size_t i = close + 2;
  while (i < s.size() && fields.size() < 13) {
    auto sp = s.find(' ', i);
    fields.push_back(s.substr(i, sp - i));
    if (sp == std::string::npos) break;
    i = sp + 1;
  }
  if (fields.size() < 13) return 0;
  double ticks =
      static_cast<double>(std::atoll(fields[11].c_str()) + std::atoll(fields[12].c_str()));
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double process_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e-6;
}

// An in-process chat server and its thread's id.
struct local_server {
  std::unique_ptr<chat_server> srv;
  long tid = 0;
  local_server() {
    auto before = thread_ids();
    srv = std::make_unique<chat_server>();
    for (long t : thread_ids())
      if (!before.count(t)) tid = t;
    srv->set_recording(false);
  }
  double cpu() const { return tid ? thread_cpu_seconds(tid) : 0; }
};

// --- the flows

std::string chat_flow(const std::string& base_url, bool stream) {
  return "flow: llm_bench\ninputs: {prompt: {type: string, default: 'Say hi'}}\nnodes:\n  ask:\n"
         "    type: llm.chat\n    params: {model: bench-model, base_url: '" +
         base_url + "', api_key: sk-bench" + (stream ? ", stream: true" : "") +
         ", retry: {max_retries: 0}}\n    inputs: {prompt: $inputs.prompt}\n"
         "outputs: {text: ask.text}\n";
}

std::shared_ptr<const flows::plan> must_load(engine& eng, const std::string& text) {
  auto lr = eng.load_string(text, "llm_bench.yaml");
  if (!lr) {
    for (auto& d : lr.errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    std::exit(1);
  }
  return lr.flow.plan();
}

engine_options options(bool tracing, const std::string& trace_file, long connections) {
  engine_options o;
  o.tracing = tracing;
  o.settings.tracing.trace_file = trace_file;
  // The default of 64 connections per host would queue the rest inside
  // libcurl: that is not what parked streams are meant to measure.
  o.settings.http.max_host_connections = std::max<long>(64, connections);
  o.settings.http.max_connections = std::max<long>(256, connections + 64);
  return o;
}

// --- keeping C runs in flight

struct driver : std::enable_shared_from_this<driver> {
  engine* eng = nullptr;
  std::shared_ptr<const flows::plan> flow;
  value_map inputs;
  int total = 0;
  // Per run: its options (observer, timeout), and what to check in its result.
  std::function<run_options(int)> make_opts;
  std::function<bool(int, const run_result&)> check;  // false: counts as an error
  std::atomic<int> next{0}, done{0};
  std::atomic<long> errors{0};
  std::vector<clock_type::time_point> t0;
  std::vector<double> lat_us;
  std::mutex mu;
  std::condition_variable cv;
  std::string first_error;
  bool refill = true;  // false: start all at once, none after

  void start(int i) {
    auto idx = static_cast<std::size_t>(i);
    t0[idx] = clock_type::now();
    auto self = shared_from_this();
    eng->run(flow, inputs, make_opts ? make_opts(i) : run_options{}, [self, i, idx](run_result r) {
      self->lat_us[idx] =
          std::chrono::duration<double, std::micro>(clock_type::now() - self->t0[idx]).count();
      bool good = self->check ? self->check(i, r) : r.ok;
      if (!good && self->errors.fetch_add(1) == 0) {
        std::lock_guard<std::mutex> lk(self->mu);
        self->first_error = r.ok ? "unexpected output " + r.outputs_json().dump() : r.error;
      }
      if (self->refill) {
        int n = self->next.fetch_add(1);
        if (n < self->total) self->start(n);
      }
      if (self->done.fetch_add(1) + 1 == self->total) {
        std::lock_guard<std::mutex> lk(self->mu);
        self->cv.notify_all();
      }
    });
  }

  void launch(int concurrency) {
    t0.assign(static_cast<std::size_t>(total), {});
    lat_us.assign(static_cast<std::size_t>(total), 0);
    int first = refill ? std::min(concurrency, total) : total;
    next = first;
    for (int i = 0; i < first; ++i) start(i);
  }

  bool wait(std::chrono::milliseconds timeout = std::chrono::hours(1)) {
    std::unique_lock<std::mutex> lk(mu);
    return cv.wait_for(lk, timeout, [&] { return done.load() == total; });
  }

  // Runs them all; wall seconds from the first start to the last answer.
  double drive(int concurrency) {
    auto begin = clock_type::now();
    launch(concurrency);
    wait();
    return secs_since(begin);
  }
};

// --- 1. calls/s

struct call_figures {
  double calls_per_s = 0;       // to the last answer
  double with_flush_per_s = 0;  // the shutdown flush included
  double flush_ms = 0;
  double p50_us = 0, p99_us = 0;
  double server_cpu = 0;   // chat server thread CPU / wall
  double process_cpu = 0;  // whole process CPU / wall (2.0 = both cores)
  long errors = 0;
};

call_figures calls_round(local_server& ls, int runs, int concurrency, bool tracing,
                         const std::string& trace_file) {
  std::filesystem::remove(trace_file);
  engine eng(options(tracing, trace_file, concurrency));
  auto flow = must_load(eng, chat_flow(ls.srv->base_url(), false));
  auto check = [](int, const run_result& r) {
    auto it = r.outputs.find("text");
    return r.ok && it != r.outputs.end() && it->second == "ok";
  };
  auto warm = std::make_shared<driver>();
  warm->eng = &eng;
  warm->flow = flow;
  warm->total = std::max(concurrency * 4, std::min(runs / 10, 2000));
  warm->check = check;
  warm->drive(concurrency);  // connections opened, pools filled

  auto d = std::make_shared<driver>();
  d->eng = &eng;
  d->flow = flow;
  d->total = runs;
  d->check = check;
  double srv0 = ls.cpu(), cpu0 = process_cpu_seconds();
  double secs = d->drive(concurrency);
  call_figures f;
  f.server_cpu = (ls.cpu() - srv0) / secs;
  f.process_cpu = (process_cpu_seconds() - cpu0) / secs;
  auto f0 = clock_type::now();
  eng.shutdown();
  f.flush_ms = secs_since(f0) * 1000;
  f.calls_per_s = runs / secs;
  f.with_flush_per_s = runs / (secs + f.flush_ms / 1000);
  std::sort(d->lat_us.begin(), d->lat_us.end());
  f.p50_us = weft::bench::percentile(d->lat_us, 0.5);
  f.p99_us = weft::bench::percentile(d->lat_us, 0.99);
  f.errors = d->errors.load() + warm->errors.load();
  if (f.errors)
    std::fprintf(stderr, "calls (tracing %s): %ld failed runs; first: %s\n", tracing ? "on" : "off",
                 f.errors, (d->errors ? d->first_error : warm->first_error).c_str());
  if (!keep_trace) std::filesystem::remove(trace_file);
  return f;
}

struct call_series {
  std::vector<double> rps, rps_flush, flush, p50, p99, srv, cpu;
  long errors = 0;
  void add(const call_figures& f) {
    rps.push_back(f.calls_per_s);
    rps_flush.push_back(f.with_flush_per_s);
    flush.push_back(f.flush_ms);
    p50.push_back(f.p50_us);
    p99.push_back(f.p99_us);
    srv.push_back(f.server_cpu);
    cpu.push_back(f.process_cpu);
    errors += f.errors;
  }
};

void print_calls(const char* who, double rps, double rps_flush, double flush_ms, double p50,
                 double p99, double srv, double cpu, long errors) {
  std::printf("  %-12s %8.0f %10.0f %8.0f %9.2f %9.2f %7.0f%% %7.0f%% %6ld\n", who, rps, rps_flush,
              flush_ms, p50 / 1000, p99 / 1000, 100 * srv, 100 * cpu, errors);
  std::fflush(stdout);
}

const char* calls_header = "  %-12s %8s %10s %8s %9s %9s %8s %8s %6s\n";

void bench_calls(local_server& ls, int rounds, int runs, int concurrency,
                 const std::string& trace_file) {
  std::printf(
      "\n1. calls/s: one llm.chat node, not streamed, %d runs per round, concurrency %d, %d rounds "
      "alternating tracing on (file sink) / off, order flipped each round\n",
      runs, concurrency, rounds);
  std::printf(calls_header, "", "calls/s", "+flush/s", "flush ms", "p50 ms", "p99 ms", "srv CPU",
              "all CPU", "errors");
  call_series on, off;
  std::vector<double> ratio, ratio_flush;
  for (int r = 1; r <= rounds; ++r) {
    call_figures fon, foff;
    if (r % 2) {
      foff = calls_round(ls, runs, concurrency, false, trace_file);
      fon = calls_round(ls, runs, concurrency, true, trace_file);
    } else {
      fon = calls_round(ls, runs, concurrency, true, trace_file);
      foff = calls_round(ls, runs, concurrency, false, trace_file);
    }
    on.add(fon);
    off.add(foff);
    ratio.push_back(fon.calls_per_s / foff.calls_per_s);
    ratio_flush.push_back(fon.with_flush_per_s / foff.with_flush_per_s);
    std::string a = "r" + std::to_string(r) + " on", b = "r" + std::to_string(r) + " off";
    print_calls(a.c_str(), fon.calls_per_s, fon.with_flush_per_s, fon.flush_ms, fon.p50_us,
                fon.p99_us, fon.server_cpu, fon.process_cpu, fon.errors);
    print_calls(b.c_str(), foff.calls_per_s, foff.with_flush_per_s, foff.flush_ms, foff.p50_us,
                foff.p99_us, foff.server_cpu, foff.process_cpu, foff.errors);
  }
  std::printf("  medians over %d rounds\n", rounds);
  print_calls("tracing on", median(on.rps), median(on.rps_flush), median(on.flush), median(on.p50),
              median(on.p99), median(on.srv), median(on.cpu), on.errors);
  print_calls("tracing off", median(off.rps), median(off.rps_flush), median(off.flush),
              median(off.p50), median(off.p99), median(off.srv), median(off.cpu), off.errors);
  std::printf(
      "  on/off calls/s: %.3f (ratio of medians), %.3f (median of rounds); with the flush: %.3f, "
      "%.3f\n",
      median(on.rps) / median(off.rps), median(ratio), median(on.rps_flush) / median(off.rps_flush),
      median(ratio_flush));
  std::printf("  target >= 5,000 calls/s (tracing on): %s\n",
              median(on.rps) >= 5000 ? "met" : "MISSED");
  std::fflush(stdout);
  failures += on.errors + off.errors;
}

// --- 2. chunk events/s

struct stream_slot {
  std::mutex mu;
  std::string joined;
  int chunks = 0;
};

struct stream_figures {
  double events_per_s = 0, runs_per_s = 0, p50_us = 0, p99_us = 0, server_cpu = 0, process_cpu = 0;
  long events = 0, errors = 0, mismatches = 0;
};

stream_figures stream_round(local_server& ls, int runs, int concurrency, int deltas,
                            const std::string& trace_file) {
  std::filesystem::remove(trace_file);
  engine eng(options(true, trace_file, concurrency));
  auto flow = must_load(eng, chat_flow(ls.srv->base_url(), true));
  std::string expected;
  for (int i = 0; i < deltas; ++i) expected += "t" + std::to_string(i) + " ";

  auto run_it = [&](int total, stream_figures& f) {
    auto slots = std::shared_ptr<stream_slot[]>(new stream_slot[static_cast<std::size_t>(total)]);
    auto events = std::make_shared<std::atomic<long>>(0);
    auto mismatches = std::make_shared<std::atomic<long>>(0);
    auto d = std::make_shared<driver>();
    d->eng = &eng;
    d->flow = flow;
    d->total = total;
    d->make_opts = [slots, events](int i) {
      run_options o;
      stream_slot* s = &slots[static_cast<std::size_t>(i)];
      o.on_event = [s, events](const run_event& e) {
        if (e.type != run_event::kind::chunk) return;
        events->fetch_add(1, std::memory_order_relaxed);
        std::lock_guard<std::mutex> lk(s->mu);
        ++s->chunks;
        if (e.data.is_string()) s->joined += e.data.get_ref<const std::string&>();
      };
      return o;
    };
    d->check = [slots, mismatches, &expected, deltas](int i, const run_result& r) {
      if (!r.ok) return false;
      stream_slot& s = slots[static_cast<std::size_t>(i)];
      std::lock_guard<std::mutex> lk(s.mu);
      auto it = r.outputs.find("text");
      bool same = it != r.outputs.end() && it->second.is_string() &&
                  it->second.get_ref<const std::string&>() == s.joined && s.joined == expected &&
                  s.chunks == deltas;
      if (!same && mismatches->fetch_add(1) == 0)
        std::fprintf(stderr, "stream run %d: %d chunks joined to %zu bytes; text output %s\n", i,
                     s.chunks, s.joined.size(), it == r.outputs.end() ? "missing" : "differs");
      return true;  // a mismatch is counted on its own, not as a run error
    };
    double srv0 = ls.cpu(), cpu0 = process_cpu_seconds();
    double secs = d->drive(concurrency);
    f.server_cpu = (ls.cpu() - srv0) / secs;
    f.process_cpu = (process_cpu_seconds() - cpu0) / secs;
    f.events = events->load();
    f.events_per_s = static_cast<double>(f.events) / secs;
    f.runs_per_s = total / secs;
    f.errors += d->errors.load();
    f.mismatches += mismatches->load();
    if (d->errors)
      std::fprintf(stderr, "stream: %ld failed runs; first: %s\n", d->errors.load(),
                   d->first_error.c_str());
    std::sort(d->lat_us.begin(), d->lat_us.end());
    f.p50_us = weft::bench::percentile(d->lat_us, 0.5);
    f.p99_us = weft::bench::percentile(d->lat_us, 0.99);
  };
  stream_figures warm, f;
  run_it(std::max(concurrency * 2, std::min(runs / 10, 500)), warm);
  run_it(runs, f);
  f.errors += warm.errors;
  f.mismatches += warm.mismatches;
  eng.shutdown();
  if (!keep_trace) std::filesystem::remove(trace_file);
  return f;
}

void bench_stream(local_server& ls, int rounds, int runs, int concurrency, int deltas,
                  const std::string& trace_file) {
  std::printf(
      "\n2. chunk events/s: llm.chat with stream: true, %d content deltas per reply, %d runs per "
      "round, "
      "concurrency %d, tracing on (file sink), %d rounds\n",
      deltas, runs, concurrency, rounds);
  std::printf("  %-8s %10s %8s %9s %9s %8s %8s %6s %10s\n", "", "chunks/s", "runs/s", "p50 ms",
              "p99 ms", "srv CPU", "all CPU", "errors", "mismatches");
  std::vector<double> eps, rps, p50, p99, srv, cpu;
  long errors = 0, mismatches = 0, events = 0;
  auto row = [](const char* who, double e, double r, double a, double b, double s, double c,
                long err, long mis) {
    std::printf("  %-8s %10.0f %8.0f %9.2f %9.2f %7.0f%% %7.0f%% %6ld %10ld\n", who, e, r, a / 1000,
                b / 1000, 100 * s, 100 * c, err, mis);
    std::fflush(stdout);
  };
  for (int r = 1; r <= rounds; ++r) {
    auto f = stream_round(ls, runs, concurrency, deltas, trace_file);
    eps.push_back(f.events_per_s);
    rps.push_back(f.runs_per_s);
    p50.push_back(f.p50_us);
    p99.push_back(f.p99_us);
    srv.push_back(f.server_cpu);
    cpu.push_back(f.process_cpu);
    errors += f.errors;
    mismatches += f.mismatches;
    events += f.events;
    if (f.events != static_cast<long>(runs) * deltas) {
      std::fprintf(stderr, "stream round %d: %ld chunk events, expected %ld\n", r, f.events,
                   static_cast<long>(runs) * deltas);
      ++mismatches;
    }
    std::string who = "round " + std::to_string(r);
    row(who.c_str(), f.events_per_s, f.runs_per_s, f.p50_us, f.p99_us, f.server_cpu, f.process_cpu,
        f.errors, f.mismatches);
  }
  row("median", median(eps), median(rps), median(p50), median(p99), median(srv), median(cpu),
      errors, mismatches);
  std::printf(
      "  %ld chunk events observed in the measured runs; joined chunks != text output: %ld\n",
      events, mismatches);
  std::printf("  target >= 100,000 chunk events/s: %s; mismatches must be 0: %s\n",
              median(eps) >= 100000 ? "met" : "MISSED", mismatches == 0 ? "met" : "MISSED");
  std::fflush(stdout);
  failures += errors + mismatches;
}

// --- 3. parked streams

// What a parking server answers: "warm" gets a whole stream, anything else
// parks after `park_after` events (the role chunk, then park_after - 1
// content deltas).
chat_server::handler park_handler(int park_after) {
  chat_reply park;
  chat_reply warm;
  std::string all;
  for (int i = 0; i < 20; ++i) {
    park.deltas.push_back("p" + std::to_string(i) + " ");
    all += park.deltas.back();
  }
  park.content = all;
  warm.deltas = park.deltas;
  warm.content = all;
  park.park_after_events = static_cast<std::size_t>(park_after);
  return [park, warm](const chat_request& r) {
    if (r.json.is_object() && r.json.contains("messages") && r.json["messages"].is_array() &&
        !r.json["messages"].empty() && r.json["messages"][0].value("content", "") == "warm")
      return warm;
    return park;
  };
}

// The server forked off at start: same handler, its counters and VmRSS in
// shared memory, polled every few ms.
struct child_shared {
  std::atomic<unsigned> port{0};
  std::atomic<long> parked{0}, open{0}, closed_early{0}, requests{0}, rss_kib{0};
  std::atomic<bool> quit{false};
};

struct child_server {
  child_shared* sh = nullptr;
  pid_t pid = -1;

  void start(int park_after) {
    void* m = ::mmap(nullptr, sizeof(child_shared), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;
    sh = new (m) child_shared();
    pid_t parent = ::getpid();
    pid = ::fork();
    if (pid != 0) return;
    {
      chat_server srv;
      srv.set_recording(false);
      srv.on_request(park_handler(park_after));
      sh->port = srv.port();
      while (!sh->quit.load() && ::getppid() == parent) {
        sh->parked = static_cast<long>(srv.parked_streams());
        sh->open = static_cast<long>(srv.open_connections());
        sh->closed_early = static_cast<long>(srv.closed_early_count());
        sh->requests = static_cast<long>(srv.request_count());
        sh->rss_kib = weft::test::rss_kib(::getpid());
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    ::_exit(0);
  }
  std::string base_url() const {
    return "http://127.0.0.1:" + std::to_string(sh->port.load()) + "/v1";
  }
  void stop() {
    if (pid <= 0) return;
    sh->quit = true;
    int status = 0;
    ::waitpid(pid, &status, 0);
    pid = -1;
  }
};

// A view of either server's counters.
struct server_view {
  std::function<long()> parked, open, closed_early;
  std::string base_url;
};

struct parked_figures {
  long before = 0, parked_rss = 0, after = 0;  // this process, KiB
  long parked_streams = 0;
  long chunks = 0;
  double wait_s = 0;
  bool all_parked = false;
  long timed_out = 0, other = 0;  // how the runs ended
  long closed = 0;                // connections the server saw closed early
  long still_parked = 0;          // streams the server still held at the end
  long want_chunks = 0;
};

// `at_before` and `at_parked` run when this process's RSS is read.
parked_figures parked_run(const server_view& sv, int parked, int park_after, int timeout_ms,
                          const std::string& trace_file,
                          const std::function<void()>& at_before = {},
                          const std::function<void()>& at_parked = {}) {
  std::filesystem::remove(trace_file);
  engine eng(options(true, trace_file, parked));
  auto flow = must_load(eng, chat_flow(sv.base_url, true));
  parked_figures f;
  // Warm up: whole streams at a low concurrency, so few idle connections
  // stay in libcurl's cache (the parked calls must pay for their own).
  {
    auto w = std::make_shared<driver>();
    w->eng = &eng;
    w->flow = flow;
    w->inputs = {{"prompt", "warm"}};
    w->total = 200;
    w->make_opts = [](int) {
      run_options o;
      o.on_event = [](const run_event&) {};
      return o;
    };
    w->drive(8);
    if (w->errors) {
      std::fprintf(stderr, "parked: %ld warm-up runs failed; first: %s\n", w->errors.load(),
                   w->first_error.c_str());
      ++failures;
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  f.before = self_rss();
  if (at_before) at_before();

  auto chunks = std::make_shared<std::atomic<long>>(0);
  auto timed_out = std::make_shared<std::atomic<long>>(0);
  auto d = std::make_shared<driver>();
  d->eng = &eng;
  d->flow = flow;
  d->total = parked;
  d->refill = false;
  d->make_opts = [chunks, timeout_ms](int) {
    run_options o;
    o.timeout_ms = timeout_ms;
    o.on_event = [chunks](const run_event& e) {
      if (e.type == run_event::kind::chunk) chunks->fetch_add(1, std::memory_order_relaxed);
    };
    return o;
  };
  d->check = [timed_out](int, const run_result& r) {
    if (!r.ok && r.timed_out) {
      ++*timed_out;
      return true;
    }
    return false;
  };
  auto t0 = clock_type::now();
  d->launch(parked);
  const long want_chunks = static_cast<long>(parked) * (park_after - 1);
  auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
  while (clock_type::now() < deadline && (sv.parked() < parked || chunks->load() < want_chunks))
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  f.wait_s = secs_since(t0);
  f.all_parked = sv.parked() >= parked && chunks->load() >= want_chunks;
  // Let the messages already sent settle before reading.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  f.parked_rss = self_rss();
  if (at_parked) at_parked();
  f.parked_streams = sv.parked();
  f.chunks = chunks->load();
  long in_flight = eng.runs_in_flight();
  if (!d->wait(std::chrono::milliseconds(timeout_ms + 30000))) {
    std::fprintf(stderr, "parked: only %d of %d runs ended after their timeout\n", d->done.load(),
                 parked);
    ++failures;
  }
  // The server sees each aborted connection close.
  for (int i = 0; i < 3000 && sv.parked() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  f.closed = sv.closed_early();
  f.still_parked = sv.parked();
  f.want_chunks = want_chunks;
  f.timed_out = timed_out->load();
  f.other = d->done.load() - f.timed_out;
  if (d->errors)
    std::fprintf(stderr, "parked: %ld runs did not end by timeout; first: %s\n", d->errors.load(),
                 d->first_error.c_str());
  if (in_flight < parked)
    std::fprintf(stderr, "parked: only %ld runs in flight at the measurement\n", in_flight);
  eng.shutdown();
  f.after = self_rss();
  if (!keep_trace) std::filesystem::remove(trace_file);
  return f;
}

bool report_parked(const parked_figures& f, int parked) {
  std::printf(
      "     parked %ld/%d streams with %ld/%ld chunks delivered after %.2f s; runs ended: %ld by "
      "timeout, "
      "%ld otherwise; the server saw %ld connections closed early, %ld still parked\n",
      f.parked_streams, parked, f.chunks, f.want_chunks, f.wait_s, f.timed_out, f.other, f.closed,
      f.still_parked);
  bool ok = f.all_parked && f.timed_out == parked && f.other == 0 && f.still_parked == 0;
  if (!ok) ++failures;
  return ok;
}

// c) The same parked streams held by one bare libcurl multi loop (no
// engine), to tell libcurl's share of the engine's figure from weft's own.
// Fills out->curl; runs in a fresh process like a) and b).
struct curl_parked_figures {
  long before = 0, parked_rss = 0;
  long parked_streams = 0, with_bytes = 0;
};

std::size_t count_bytes(char*, std::size_t size, std::size_t n, void* p) {
  *static_cast<std::size_t*>(p) += size * n;
  return size * n;
}

curl_parked_figures curl_parked(const std::string& base_url,
                                const std::function<long()>& server_parked, int parked,
                                int timeout_ms) {
  curl_parked_figures f;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(parked));
  curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(parked + 64));
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(parked + 64));
  const std::string url = base_url + "/chat/completions";
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Accept: text/event-stream");
  headers = curl_slist_append(headers, "Authorization: Bearer sk-bench");
  const std::string warm_body =
      R"({"model":"bench-model","messages":[{"role":"user","content":"warm"}],"stream":true})";
  const std::string park_body =
      R"({"model":"bench-model","messages":[{"role":"user","content":"Say hi"}],"stream":true})";
  std::vector<std::size_t> bytes(static_cast<std::size_t>(parked), 0);
  auto make = [&](const std::string& body, std::size_t* counter) {
    CURL* e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, count_bytes);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, counter);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms));
    return e;
  };
  auto pump = [&](const std::function<bool()>& until, std::chrono::milliseconds limit) {
    auto end = clock_type::now() + limit;
    while (!until() && clock_type::now() < end) {
      int running = 0;
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
        if (m->msg != CURLMSG_DONE) continue;
        curl_multi_remove_handle(multi, m->easy_handle);
        curl_easy_cleanup(m->easy_handle);
      }
      curl_multi_poll(multi, nullptr, 0, 5, nullptr);
    }
  };
  // Warm-up: 200 whole streams, 8 at a time, as the engine's warm-up.
  {
    std::size_t sink = 0;
    int started = 0;
    int running = 0;
    while (started < 200 || running > 0) {
      while (started < 200 && running < 8) {
        curl_multi_add_handle(multi, make(warm_body, &sink));
        ++started;
        ++running;
      }
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
        if (m->msg != CURLMSG_DONE) continue;
        curl_multi_remove_handle(multi, m->easy_handle);
        curl_easy_cleanup(m->easy_handle);
      }
      curl_multi_poll(multi, nullptr, 0, 5, nullptr);
      curl_multi_perform(multi, &running);
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  f.before = self_rss();
  std::vector<CURL*> handles;
  for (int i = 0; i < parked; ++i) {
    handles.push_back(make(park_body, &bytes[static_cast<std::size_t>(i)]));
    curl_multi_add_handle(multi, handles.back());
  }
  auto all_have_bytes = [&] {
    return std::all_of(bytes.begin(), bytes.end(), [](std::size_t b) { return b > 0; });
  };
  pump([&] { return server_parked() >= parked && all_have_bytes(); },
       std::chrono::milliseconds(timeout_ms));
  pump([] { return false; }, std::chrono::milliseconds(100));
  f.parked_rss = self_rss();
  f.parked_streams = server_parked();
  f.with_bytes = std::count_if(bytes.begin(), bytes.end(), [](std::size_t b) { return b > 0; });
  for (CURL* e : handles) {
    curl_multi_remove_handle(multi, e);
    curl_easy_cleanup(e);
  }
  curl_multi_cleanup(multi);
  curl_slist_free_all(headers);
  curl_global_cleanup();
  return f;
}

// What the forked measurements hand back.
struct parked_shared {
  double in_process = -1, engine = -1, server = -1, curl = -1;
  long failures = 0;
};

// Runs `body` in a child process forked now (this process must have one
// thread); true when it exited 0.
bool in_fresh_process(const std::function<void()>& body) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    body();
    std::fflush(stdout);
    std::fflush(stderr);
    ::_exit(failures ? 1 : 0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Each measurement runs in a process of its own, forked before this one
// starts any thread: memory that other parts freed (and the allocator
// kept) would otherwise be reused by the parked calls and hide their cost.
void bench_parked(int parked, int park_after, int timeout_ms, const std::string& trace_file) {
  std::printf(
      "\n3. RSS per parked streaming call: %d llm.chat streams parked after %d events (%d content "
      "chunks each), tracing on (file sink), run timeout %d ms ends them; each measurement in a "
      "fresh "
      "process, run before parts 1 and 2\n",
      parked, park_after, park_after - 1, timeout_ms);
  void* m = ::mmap(nullptr, sizeof(parked_shared), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    std::fprintf(stderr, "parked: mmap failed\n");
    ++failures;
    return;
  }
  auto* out = new (m) parked_shared();

  // a) the server in the same process: engine + server per call.
  bool ok_a = in_fresh_process([&] {
    local_server ls;
    ls.srv->on_request(park_handler(park_after));
    chat_server* s = ls.srv.get();
    server_view sv{[s] { return static_cast<long>(s->parked_streams()); },
                   [s] { return static_cast<long>(s->open_connections()); },
                   [s] { return static_cast<long>(s->closed_early_count()); }, s->base_url()};
    auto f = parked_run(sv, parked, park_after, timeout_ms, trace_file);
    out->in_process = static_cast<double>(f.parked_rss - f.before) / parked;
    std::printf(
        "  a) server in the same process: RSS before %ld KiB, parked %ld KiB, after the timeouts "
        "and "
        "shutdown %ld KiB\n     per parked call (engine + server): %.1f KiB\n",
        f.before, f.parked_rss, f.after, out->in_process);
    report_parked(f, parked);
  });

  // b) the same server in a process of its own: the bench process holds
  // the engine's share only, the server process the server's.
  bool ok_b = in_fresh_process([&] {
    child_server child;
    child.start(park_after);
    if (child.pid <= 0) {
      std::printf("  b) server in a process of its own: fork failed\n");
      ++failures;
      return;
    }
    child_shared* sh = child.sh;
    while (sh->port.load() == 0 || sh->rss_kib.load() == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    server_view sv{[sh] { return sh->parked.load(); }, [sh] { return sh->open.load(); },
                   [sh] { return sh->closed_early.load(); }, child.base_url()};
    // The server samples its RSS every 5 ms; parked_run reads it after
    // its own pauses (300 ms before, 100 ms parked), so the samples are fresh.
    long srv_before = 0, srv_parked = 0;
    auto f = parked_run(
        sv, parked, park_after, timeout_ms, trace_file, [&] { srv_before = sh->rss_kib.load(); },
        [&] { srv_parked = sh->rss_kib.load(); });
    long srv_after = sh->rss_kib.load();
    child.stop();
    out->engine = static_cast<double>(f.parked_rss - f.before) / parked;
    out->server = static_cast<double>(srv_parked - srv_before) / parked;
    std::printf(
        "  b) server in a process of its own: bench RSS before %ld KiB, parked %ld KiB, after %ld "
        "KiB; "
        "server RSS before %ld KiB, parked %ld KiB, after %ld KiB\n"
        "     per parked call: engine %.1f KiB, server %.1f KiB (sum %.1f)\n",
        f.before, f.parked_rss, f.after, srv_before, srv_parked, srv_after, out->engine,
        out->server, out->engine + out->server);
    report_parked(f, parked);
  });
  // c) no engine: the same streams parked by a bare libcurl multi loop.
  bool ok_c = in_fresh_process([&] {
    child_server child;
    child.start(park_after);
    if (child.pid <= 0) {
      std::printf("  c) bare libcurl: fork failed\n");
      ++failures;
      return;
    }
    child_shared* sh = child.sh;
    while (sh->port.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    auto f = curl_parked(
        child.base_url(), [sh] { return sh->parked.load(); }, parked, timeout_ms);
    child.stop();
    out->curl = static_cast<double>(f.parked_rss - f.before) / parked;
    std::printf(
        "  c) the same streams held by one bare libcurl multi loop (no engine), server in a "
        "process of its "
        "own: RSS before %ld KiB, parked %ld KiB\n     per parked transfer: %.1f KiB (libcurl's "
        "part of "
        "the engine figure); %ld/%d parked, %ld/%d transfers with bytes received\n",
        f.before, f.parked_rss, out->curl, f.parked_streams, parked, f.with_bytes, parked);
    if (f.parked_streams < parked || f.with_bytes < parked) ++failures;
  });
  if (!ok_a || !ok_b || !ok_c) ++failures;
  auto verdict = [](double v) { return v < 0 ? "not measured" : v <= 64 ? "met" : "MISSED"; };
  std::printf(
      "  target <= 64 KiB per parked call: engine alone %s (%.1f KiB, of which bare libcurl %.1f); "
      "engine + in-process server %s (%.1f KiB)\n",
      verdict(out->engine), out->engine, out->curl, verdict(out->in_process), out->in_process);
  std::fflush(stdout);
  ::munmap(m, sizeof(parked_shared));
}

void print_machine() {
  std::string model;
  std::ifstream ci("/proc/cpuinfo");
  for (std::string line; std::getline(ci, line);)
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  std::string load;
  std::ifstream la("/proc/loadavg");
  std::getline(la, load);
  std::printf("machine: %u hardware threads, %s; load average %s\n",
              std::thread::hardware_concurrency(), model.c_str(), load.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, runs = 20000, concurrency = 64, stream_runs = 2000, deltas = 200, parked = 1000,
      park_after = 5, park_timeout_ms = 10000;
  std::string trace_file = (std::filesystem::temp_directory_path() /
                            ("weft-llm-bench-" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  const char* usage =
      "usage: weft_llm_bench [--rounds N] [--runs N] [--concurrency C] [--stream-runs N] [--deltas "
      "N] "
      "[--parked N] [--park-after N] [--park-timeout-ms MS] [--trace-file PATH]\n";
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "%s", usage);
      return 2;
    }
    std::string v = argv[++i];
    int n = std::atoi(v.c_str());
    if (k == "--rounds") rounds = n;
    else if (k == "--runs") runs = n;
    else if (k == "--concurrency") concurrency = n;
    else if (k == "--stream-runs") stream_runs = n;
    else if (k == "--deltas") deltas = n;
    else if (k == "--parked") parked = n;
    else if (k == "--park-after") park_after = n;
    else if (k == "--park-timeout-ms") park_timeout_ms = n;
    else if (k == "--trace-file") {
      trace_file = v;
      keep_trace = true;
    } else {
      std::fprintf(stderr, "weft_llm_bench: unknown option %s\n%s", k.c_str(), usage);
      return 2;
    }
  }
  if (rounds < 1 || runs < 0 || concurrency < 1 || stream_runs < 0 || deltas < 1 || parked < 0 ||
      park_after < 2 || park_timeout_ms < 100) {
    std::fprintf(stderr, "%s", usage);
    return 2;
  }
  // Parked streams hold two descriptors each (client and server side).
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }

  print_machine();
  // First, while this process has no thread yet (it forks).
  if (parked > 0) bench_parked(parked, park_after, park_timeout_ms, trace_file);
  {
    local_server ls;
    std::printf("chat server: %s (in this process, one poll() thread, requests not recorded)\n",
                ls.srv->base_url().c_str());
    if (runs > 0) bench_calls(ls, rounds, runs, concurrency, trace_file);
    if (stream_runs > 0) {
      chat_reply r;
      std::string all;
      for (int i = 0; i < deltas; ++i) {
        r.deltas.push_back("t" + std::to_string(i) + " ");
        all += r.deltas.back();
      }
      r.content = all;
      ls.srv->on_request([r](const chat_request&) { return r; });
      bench_stream(ls, rounds, stream_runs, concurrency, deltas, trace_file);
    }
  }
  if (failures) std::printf("\nFAILED: %ld errors (see above)\n", failures);
  return failures ? 1 : 0;
}
