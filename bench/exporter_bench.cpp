// weft_exporter_bench: the exporter's figures against the loopback collector.
//
//   spans/s from the exporter actor through the OTLP/HTTP sink to the
//   collector, gzip off and on (synthetic run-like spans, 8 attributes);
//   chain10 runs/s with the otlp sink on, side by side with tracing off;
//   RSS over a backend outage under full load (flat = bounded by the queue).
//
// Usage: weft_exporter_bench [--spans N] [--rounds N] [--outage-s S] [--only-outage]
// (--only-outage in its own process gives RSS figures free of the other phases.)
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "actors/engine_internals.hpp"
#include "bench_util.hpp"
#include "export/exporter.hpp"
#include "export/http_sink.hpp"
#include "export/messages.hpp"
#include "net/http_client.hpp"
#include "support/test_collector.hpp"

using namespace weft;
using weft::bench::chain10;
using weft::bench::median;
using weft::bench::rss_kib;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<tracing::span_record> sample_spans(std::size_t n) {
  std::vector<tracing::span_record> out;
  auto trace = tracing::trace_id::random();
  auto root = tracing::span_id::random();
  for (std::size_t i = 0; i < n; ++i) {
    tracing::span_record s;
    s.trace = trace;
    s.id = tracing::span_id::random();
    s.parent = root;
    s.name = "n" + std::to_string(i % 10);
    s.start_unix_ns = tracing::now_unix_ns();
    s.end_unix_ns = s.start_unix_ns + 20000;
    s.status = tracing::status_code::ok;
    s.set("weft.run.id", "0d0617db-dfd1-4f1e-8b55-105ea082b3b0");
    s.set("weft.flow.name", "chain10");
    s.set("session.id", "session-123");
    s.set("user.id", "user-456");
    s.set("weft.node.id", s.name);
    s.set("weft.node.type", "passthrough");
    out.push_back(std::move(s));
  }
  return out;
}

double exporter_throughput(std::size_t total, bool gzip, test::test_collector& c) {
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto http = net::spawn_http_client(sys);
  config::otlp_settings s;
  s.endpoint = c.base_url() + "/v1/traces";
  s.gzip = gzip;
  exporting::http_worker_config hc;
  hc.spool_dir = (std::filesystem::temp_directory_path() / "weft-bench-spool").string();
  std::filesystem::remove_all(hc.spool_dir);
  auto worker = exporting::spawn_http_worker(sys, exporting::make_otlp_protocol(s, {}), http, hc);
  exporting::exporter_config ec;
  ec.max_outstanding_spans = static_cast<std::int64_t>(total);  // measure delivery, not shedding
  auto exporter = exporting::spawn_exporter(sys, {worker}, ec);
  auto chunk = sample_spans(64);
  total = (total + chunk.size() - 1) / chunk.size() * chunk.size();
  c.clear();
  auto t0 = clock_type::now();
  for (std::size_t sent = 0; sent < total; sent += chunk.size()) caf::anon_send(exporter, chunk);
  bool ok = false;
  {
    caf::scoped_actor self{sys};
    self->request(exporter, std::chrono::seconds(120), exporting::flush_atom::value,
                  std::int64_t{100000})
        .receive([&](bool b) { ok = b; }, [](caf::error&) {});
  }
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  {
    caf::scoped_actor self{sys};
    self->request(exporter, std::chrono::seconds(10), exporting::stats_atom::value)
        .receive(
            [&](exporting::exporter_stats& st) {
              auto& k = st.sinks.at(0);
              if (k.exported != total || st.total_dropped() != 0)
                std::fprintf(stderr, "NOT ALL DELIVERED: exported %llu of %zu, dropped %llu\n",
                             static_cast<unsigned long long>(k.exported), total,
                             static_cast<unsigned long long>(st.total_dropped()));
            },
            [](caf::error&) {});
  }
  caf::anon_send_exit(exporter, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(http, caf::exit_reason::user_shutdown);
  if (!ok) std::fprintf(stderr, "flush did not complete\n");
  return static_cast<double>(total) / secs;
}

// chain10 at concurrency 64 for `total` runs, or for `seconds` when > 0,
// sampling RSS once a second into `rss`.
double drive(engine_options o, int total, double seconds = 0, std::vector<long>* rss = nullptr) {
  engine eng(std::move(o));
  auto flow = eng.load_string(chain10()).flow.plan();
  std::atomic<int> started{0}, done{0};
  std::atomic<bool> stop{false};
  std::function<void()> start = [&] {
    started++;
    eng.run(flow, {{"value", "x"}}, {}, [&](run_result) {
      done++;
      if (!stop.load() && (seconds > 0 || started.load() < total)) start();
    });
  };
  auto t0 = clock_type::now();
  for (int i = 0; i < 64; ++i) start();
  auto last_sample = t0;
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    auto now = clock_type::now();
    if (rss && now - last_sample >= std::chrono::seconds(1)) {
      rss->push_back(rss_kib());
      last_sample = now;
    }
    if (seconds > 0 ? std::chrono::duration<double>(now - t0).count() >= seconds
                    : done.load() >= total)
      break;
  }
  stop = true;
  while (done.load() < started.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  int n = done.load();
  eng.shutdown();
  auto st = eng.stats();
  if (st.total_dropped() && seconds == 0)
    std::printf("    (note: %llu spans dropped in this round)\n",
                static_cast<unsigned long long>(st.total_dropped()));
  if (seconds > 0) std::printf("    %s\n", st.to_string().c_str());
  return n / secs;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t spans = 1'000'000;
  int rounds = 3;
  double outage_s = 60;
  bool only_outage = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--only-outage")) only_outage = true;
    else if (i + 1 >= argc) break;
    else if (!std::strcmp(argv[i], "--spans")) spans = std::stoul(argv[++i]);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[++i]);
    else if (!std::strcmp(argv[i], "--outage-s")) outage_s = std::atof(argv[++i]);
  }
  test::test_collector c;
  std::printf("machine: %u hardware threads\n", std::thread::hardware_concurrency());
  for (bool gz : {false, true}) {
    if (only_outage) break;
    std::vector<double> v;
    for (int r = 0; r < rounds; ++r) v.push_back(exporter_throughput(spans, gz, c));
    std::printf("exporter -> otlp (gzip %s), %zu spans: median %.0f spans/s (rounds:",
                gz ? "on" : "off", spans, median(v));
    for (double x : v) std::printf(" %.0f", x);
    std::printf(")\n");
  }

  auto spool_root = (std::filesystem::temp_directory_path() / "weft-bench-spool2").string();
  std::vector<double> off, on, ratio;
  for (int r = 0; r < rounds && !only_outage; ++r) {
    engine_options a;
    a.tracing = false;
    engine_options b;
    config::otlp_settings s;
    s.endpoint = c.base_url() + "/v1/traces";
    b.settings.exporter.otlp = s;
    b.settings.exporter.spool_dir = spool_root;
    double x = drive(std::move(a), 40000), y = drive(std::move(b), 40000);
    off.push_back(x);
    on.push_back(y);
    ratio.push_back(y / x);
    std::printf("  chain10 round %d: off %.0f runs/s, otlp %.0f runs/s, ratio %.3f\n", r + 1, x, y,
                y / x);
  }
  if (!only_outage)
    std::printf("chain10 c64: median off %.0f runs/s, otlp on %.0f runs/s, ratio %.3f\n",
                median(off), median(on), median(ratio));

  if (outage_s > 0) {
    c.stop();
    std::filesystem::remove_all(spool_root);
    engine_options b;
    config::otlp_settings s;
    s.endpoint = c.base_url() + "/v1/traces";
    b.settings.exporter.otlp = s;
    b.settings.exporter.spool_dir = spool_root;
    b.settings.exporter.shutdown_timeout_ms = 100;
    std::vector<long> rss;
    double rate = drive(std::move(b), 0, outage_s, &rss);
    std::printf("outage %.0f s, chain10 c64 at %.0f runs/s, backend down; RSS KiB per second:",
                outage_s, rate);
    for (long k : rss) std::printf(" %ld", k);
    auto [mn, mx] = std::minmax_element(rss.begin(), rss.end());
    std::printf("\nRSS min %ld KiB, max %ld KiB, last %ld KiB\n", rss.empty() ? 0 : *mn,
                rss.empty() ? 0 : *mx, rss.empty() ? 0 : rss.back());
    std::filesystem::remove_all(spool_root);
  }
}
