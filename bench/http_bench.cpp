// weft_http_bench: what the `http.request` node costs over a bare HTTP call.
//
// A keep-alive origin on 127.0.0.1 (bench_origin.hpp: one thread, epoll,
// a fixed 200 "ok") is called the same number of times, in alternating
// rounds, by
//   engine:   an embedded weft engine running a one-node flow
//             (`type: http.request`, GET the origin), N runs with C in
//             flight, tracing on (file sink) unless --tracing-off;
//   raw curl: one libcurl multi loop on one thread keeping C GETs in flight
//             on C keep-alive easy handles.
// For each: calls/s, per-call latency p50/p99 (engine: run start to the
// run's answer; curl: add_handle to CURLMSG_DONE), and the origin thread's
// CPU use over the round, to show whether the server was the bottleneck.
// A second pass at concurrency 1 measures latency without queueing, where
// engine p50 - curl p50 is the engine's added latency per call; that pass
// also times the engine running a one-node passthrough flow ("no http"),
// to split the added latency into the run's own cost and the HTTP path's.
//
// Usage: weft_http_bench [--rounds N] [--calls N] [--concurrency C]
//                        [--latency-calls N] [--trace-file PATH] [--tracing-off]
// Without --trace-file the spans go to a temporary file, deleted after each
// round; with it they stay in PATH (each engine round overwrites it; the
// passthrough flow's in PATH.no-http).
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "actors/engine_internals.hpp"
#include "bench_origin.hpp"
#include "bench_util.hpp"

using namespace weft;
using weft::bench::median;
using clock_type = std::chrono::steady_clock;

namespace {

bool keep_trace = false;  // --trace-file given: leave the last engine round's spans there

struct figures {
  double calls_per_s = 0;
  double p50_us = 0, p99_us = 0;
  long errors = 0;
  double server_cpu = 0;  // origin thread CPU seconds / wall seconds
  double flush_ms = 0;    // engine only: shutdown (span flush) after the last answer
};

std::string flow_text(const std::string& url) {
  return "flow: http_bench\nnodes:\n  call:\n    type: http.request\n    params: {url: \"" + url +
         "\", retry: {max_attempts: 1}}\noutputs: {status: call.status}\n";
}

// The same one-node run without HTTP: what a run costs by itself.
std::string baseline_flow_text() {
  return "flow: http_bench_baseline\ninputs: {value: {type: any, default: 200}}\nnodes:\n"
         "  call: {type: passthrough, inputs: {value: $inputs.value}}\noutputs: {status: "
         "call.value}\n";
}

// Keeps `concurrency` runs in flight until `total` have answered; latencies
// in µs, by run.
struct engine_driver : std::enable_shared_from_this<engine_driver> {
  engine* eng = nullptr;
  std::shared_ptr<const flows::plan> flow;
  int total = 0;
  std::atomic<int> next{0}, done{0};
  std::atomic<long> errors{0};
  std::vector<clock_type::time_point> t0;
  std::vector<double> lat_us;
  std::mutex mu;
  std::condition_variable cv;
  std::string first_error;

  void start(int i) {
    t0[static_cast<std::size_t>(i)] = clock_type::now();
    auto self = shared_from_this();
    eng->run(flow, {}, {}, [self, i](run_result r) {
      auto idx = static_cast<std::size_t>(i);
      self->lat_us[idx] =
          std::chrono::duration<double, std::micro>(clock_type::now() - self->t0[idx]).count();
      if (!r.ok || r.outputs["status"] != 200) {
        if (self->errors.fetch_add(1) == 0) {
          std::lock_guard<std::mutex> lk(self->mu);
          self->first_error = r.ok ? "status " + r.outputs["status"].dump() : r.error;
        }
      }
      int n = self->next.fetch_add(1);
      if (n < self->total) self->start(n);
      if (self->done.fetch_add(1) + 1 == self->total) {
        std::lock_guard<std::mutex> lk(self->mu);
        self->cv.notify_all();
      }
    });
  }

  // Returns the wall seconds from the first start to the last answer.
  double drive(int concurrency) {
    t0.assign(static_cast<std::size_t>(total), {});
    lat_us.assign(static_cast<std::size_t>(total), 0);
    int first = std::min(concurrency, total);
    next = first;
    auto begin = clock_type::now();
    for (int i = 0; i < first; ++i) start(i);
    std::unique_lock<std::mutex> lk(mu);
    cv.wait(lk, [&] { return done.load() == total; });
    return std::chrono::duration<double>(clock_type::now() - begin).count();
  }
};

figures via_engine(const bench::origin_server& srv, int calls, int warmup, int concurrency,
                   bool tracing, const std::string& trace_file, bool baseline = false) {
  std::filesystem::remove(trace_file);
  engine_options o;
  o.tracing = tracing;
  o.settings.tracing.trace_file = trace_file;
  engine eng(std::move(o));
  auto lr = eng.load_string(baseline ? baseline_flow_text() : flow_text(srv.url("/item")));
  if (!lr) {
    for (auto& d : lr.errors) std::fprintf(stderr, "%s\n", d.to_string().c_str());
    std::exit(1);
  }
  auto warm = std::make_shared<engine_driver>();
  warm->eng = &eng;
  warm->flow = lr.flow.plan();
  warm->total = warmup;
  warm->drive(concurrency);  // connections opened, pools and caches filled

  auto d = std::make_shared<engine_driver>();
  d->eng = &eng;
  d->flow = lr.flow.plan();
  d->total = calls;
  double cpu0 = srv.cpu_seconds();
  double secs = d->drive(concurrency);
  double cpu = srv.cpu_seconds() - cpu0;
  auto f0 = clock_type::now();
  eng.shutdown();
  figures f;
  f.flush_ms = std::chrono::duration<double, std::milli>(clock_type::now() - f0).count();
  f.calls_per_s = calls / secs;
  std::sort(d->lat_us.begin(), d->lat_us.end());
  f.p50_us = weft::bench::percentile(d->lat_us, 0.5);
  f.p99_us = weft::bench::percentile(d->lat_us, 0.99);
  f.errors = d->errors.load() + warm->errors.load();
  f.server_cpu = cpu / secs;
  if (f.errors)
    std::fprintf(stderr, "engine: %ld failed calls; first: %s\n", f.errors, d->first_error.c_str());
  if (!keep_trace) std::filesystem::remove(trace_file);
  return f;
}

std::size_t discard(char*, std::size_t size, std::size_t n, void*) { return size * n; }

// One multi handle, `concurrency` easy handles re-added as each finishes.
struct curl_driver {
  CURLM* multi = nullptr;
  struct slot {
    CURL* easy = nullptr;
    clock_type::time_point t0;
    int index = 0;
  };
  std::vector<slot> slots;

  curl_driver(const std::string& url, int concurrency) {
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(concurrency));
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(concurrency));
    slots.resize(static_cast<std::size_t>(concurrency));
    for (auto& s : slots) {
      s.easy = curl_easy_init();
      curl_easy_setopt(s.easy, CURLOPT_URL, url.c_str());
      curl_easy_setopt(s.easy, CURLOPT_NOSIGNAL, 1L);
      curl_easy_setopt(s.easy, CURLOPT_TCP_NODELAY, 1L);
      curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, discard);
      curl_easy_setopt(s.easy, CURLOPT_HEADERFUNCTION, discard);
      curl_easy_setopt(s.easy, CURLOPT_PRIVATE, &s);
    }
  }
  ~curl_driver() {
    for (auto& s : slots) curl_easy_cleanup(s.easy);
    curl_multi_cleanup(multi);
  }
  curl_driver(const curl_driver&) = delete;
  curl_driver& operator=(const curl_driver&) = delete;

  // `total` calls; returns wall seconds, latencies (µs) into lat_us.
  double drive(int total, std::vector<double>& lat_us, long& errors) {
    lat_us.assign(static_cast<std::size_t>(total), 0);
    int next = 0, done = 0;
    auto start = [&](slot& s) {
      s.index = next++;
      s.t0 = clock_type::now();
      curl_multi_add_handle(multi, s.easy);
    };
    auto begin = clock_type::now();
    for (auto& s : slots)
      if (next < total) start(s);
    while (done < total) {
      int running = 0;
      curl_multi_perform(multi, &running);
      int queued = 0;
      while (CURLMsg* m = curl_multi_info_read(multi, &queued)) {
        if (m->msg != CURLMSG_DONE) continue;
        CURL* e = m->easy_handle;
        CURLcode rc = m->data.result;
        slot* s = nullptr;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, reinterpret_cast<char**>(&s));
        long status = 0;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        lat_us[static_cast<std::size_t>(s->index)] =
            std::chrono::duration<double, std::micro>(clock_type::now() - s->t0).count();
        if (rc != CURLE_OK || status != 200) {
          if (errors++ == 0)
            std::fprintf(stderr, "curl: %s, status %ld\n", curl_easy_strerror(rc), status);
        }
        curl_multi_remove_handle(multi, e);
        ++done;
        if (next < total) start(*s);
      }
      if (done < total) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
    }
    return std::chrono::duration<double>(clock_type::now() - begin).count();
  }
};

figures via_curl(const bench::origin_server& srv, int calls, int warmup, int concurrency) {
  curl_driver d(srv.url("/item"), concurrency);
  std::vector<double> lat;
  long errors = 0;
  d.drive(warmup, lat, errors);
  double cpu0 = srv.cpu_seconds();
  double secs = d.drive(calls, lat, errors);
  double cpu = srv.cpu_seconds() - cpu0;
  figures f;
  f.calls_per_s = calls / secs;
  std::sort(lat.begin(), lat.end());
  f.p50_us = weft::bench::percentile(lat, 0.5);
  f.p99_us = weft::bench::percentile(lat, 0.99);
  f.errors = errors;
  f.server_cpu = cpu / secs;
  return f;
}

void print_round(const char* who, const figures& f) {
  std::printf("    %-9s %7.0f calls/s  p50 %8.1f us  p99 %8.1f us  errors %ld  server CPU %3.0f%%",
              who, f.calls_per_s, f.p50_us, f.p99_us, f.errors, 100 * f.server_cpu);
  if (f.flush_ms > 0) std::printf("  (flush %.0f ms)", f.flush_ms);
  std::printf("\n");
  std::fflush(stdout);
}

struct series {
  std::vector<double> rps, p50, p99, cpu;
  long errors = 0;
  void add(const figures& f) {
    rps.push_back(f.calls_per_s);
    p50.push_back(f.p50_us);
    p99.push_back(f.p99_us);
    cpu.push_back(f.server_cpu);
    errors += f.errors;
  }
  void print(const char* who) const {
    std::printf(
        "  %-9s %7.0f calls/s  p50 %8.1f us  p99 %8.1f us  errors %ld  server CPU %3.0f%%\n", who,
        median(rps), median(p50), median(p99), errors, 100 * median(cpu));
  }
};

// Alternating rounds of engine and raw curl at one concurrency.
// With `with_baseline`, a third series: the engine running a one-node
// passthrough flow (no HTTP), i.e. the cost of a run by itself.
void compare(const bench::origin_server& srv, int rounds, int calls, int concurrency, bool tracing,
             const std::string& trace_file, bool with_baseline) {
  std::printf(
      "concurrency %d, %d calls per round, %d rounds alternating engine / raw curl, tracing %s\n",
      concurrency, calls, rounds, tracing ? "on (file sink)" : "off");
  std::fflush(stdout);
  int warmup = std::max(concurrency * 4, std::min(calls / 10, 2000));
  series e, c, n;
  std::vector<double> added;
  for (int r = 1; r <= rounds; ++r) {
    std::printf("  round %d\n", r);
    auto fe = via_engine(srv, calls, warmup, concurrency, tracing, trace_file);
    print_round("engine", fe);
    auto fc = via_curl(srv, calls, warmup, concurrency);
    print_round("raw curl", fc);
    if (with_baseline) {
      auto fn = via_engine(srv, calls, warmup, concurrency, tracing, trace_file + ".no-http", true);
      print_round("no http", fn);
      n.add(fn);
    }
    e.add(fe);
    c.add(fc);
    added.push_back(fe.p50_us - fc.p50_us);
  }
  std::printf("  medians over %d rounds\n", rounds);
  e.print("engine");
  c.print("raw curl");
  if (with_baseline) n.print("no http");
  std::printf(
      "  engine/curl calls/s %.3f; added p50 (engine p50 - curl p50): %.1f us (ratio of medians), "
      "%.1f us (median of rounds)\n",
      median(e.rps) / median(c.rps), median(e.p50) - median(c.p50), median(added));
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 5, calls = 30000, concurrency = 64, latency_calls = 5000;
  bool tracing = true;
  std::string trace_file = (std::filesystem::temp_directory_path() /
                            ("weft-http-bench-" + std::to_string(::getpid()) + ".jsonl"))
                               .string();
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k == "--tracing-off") {
      tracing = false;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr,
                   "usage: weft_http_bench [--rounds N] [--calls N] [--concurrency C] "
                   "[--latency-calls N] [--trace-file PATH] [--tracing-off]\n");
      return 2;
    }
    std::string v = argv[++i];
    if (k == "--rounds") rounds = std::atoi(v.c_str());
    else if (k == "--calls") calls = std::atoi(v.c_str());
    else if (k == "--concurrency") concurrency = std::atoi(v.c_str());
    else if (k == "--latency-calls") latency_calls = std::atoi(v.c_str());
    else if (k == "--trace-file") {
      trace_file = v;
      keep_trace = true;
    } else {
      std::fprintf(stderr, "weft_http_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (rounds < 1 || calls < 1 || concurrency < 1) return 2;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  bench::origin_server srv;
  std::printf("machine: %u hardware threads; origin %s (one epoll thread, keep-alive)\n",
              std::thread::hardware_concurrency(), srv.url("/item").c_str());
  compare(srv, rounds, calls, concurrency, tracing, trace_file, false);
  if (latency_calls > 0 && concurrency != 1)
    compare(srv, rounds, latency_calls, 1, tracing, trace_file, true);
  std::printf("origin: %llu requests on %llu connections\n",
              static_cast<unsigned long long>(srv.requests()),
              static_cast<unsigned long long>(srv.connections_accepted()));
  curl_global_cleanup();
  return 0;
}
