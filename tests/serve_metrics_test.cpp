// serve::metrics and the /metrics text, read back through the test parser
// (tests/support/prometheus_text.hpp), which these tests also hold to account.
#include <catch2/catch.hpp>

#include <array>
#include <atomic>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "export/exporter.hpp"
#include "serve/metrics.hpp"
#include "support/prometheus_text.hpp"

using weft::exporting::exporter_stats;
using weft::exporting::sink_stats;
using weft::serve::metrics;
using weft::serve::run_status;
namespace prom = weft::test::prometheus;

namespace {

prom::parsed scrape(const metrics& m, const exporter_stats& ex = {}) {
  auto r = prom::parse(m.render(ex));
  INFO(r.error);
  REQUIRE(r);
  return r.doc;
}

double runs(const prom::parsed& doc, const std::string& flow, const std::string& status) {
  return prom::sample_value(doc, "weft_runs_total", {{"flow", flow}, {"status", status}});
}

// Checks the histogram rules for one flow and returns its buckets'
// cumulative counts, in order, +Inf last.
std::vector<double> buckets(const prom::parsed& doc, const std::string& flow) {
  std::vector<double> out;
  double last_bound = -std::numeric_limits<double>::infinity();
  for (const auto* s : prom::samples_named(doc, "weft_run_duration_seconds_bucket")) {
    if (s->labels.at("flow") != flow) continue;
    double bound = std::stod(s->labels.at("le") == "+Inf" ? "inf" : s->labels.at("le"));
    CHECK(bound > last_bound);                        // bounds ascend
    if (!out.empty()) CHECK(s->value >= out.back());  // counts are cumulative
    last_bound = bound;
    out.push_back(s->value);
  }
  REQUIRE(out.size() == metrics::duration_buckets.size() + 1);
  CHECK(std::isinf(last_bound));
  CHECK(out.back() == prom::sample_value(doc, "weft_run_duration_seconds_count", {{"flow", flow}}));
  return out;
}

}  // namespace

TEST_CASE("metrics: counters after a scripted sequence of events", "[metrics]") {
  metrics m;
  m.register_flow("echo");
  m.register_flow("slow");
  m.register_flow("echo");  // idempotent

  for (int i = 0; i < 3; ++i) m.run_started();
  m.run_finished("echo", run_status::ok, 0.01);
  m.run_finished("echo", run_status::ok, 0.02);
  m.run_finished("slow", run_status::timeout, 30);
  m.run_rejected("echo");  // 503: never started
  m.run_rejected("slow");  // 400: bad inputs
  m.run_started();         // still running at scrape time
  m.run_started();
  m.run_finished("nope", run_status::failed, 1);  // unknown flow: only inflight moves
  m.run_rejected("nope");
  for (int i = 0; i < 4; ++i) m.http_request(200);
  m.http_request(404);
  m.http_request(503);
  m.http_request(400);
  m.http_request(99);  // not a status code: counted as "other"
  m.http_request(600);

  CHECK(m.inflight() == 1);
  auto doc = scrape(m);

  CHECK(runs(doc, "echo", "ok") == 2);
  CHECK(runs(doc, "echo", "failed") == 0);
  CHECK(runs(doc, "echo", "timeout") == 0);
  CHECK(runs(doc, "echo", "rejected") == 1);
  CHECK(runs(doc, "slow", "ok") == 0);
  CHECK(runs(doc, "slow", "timeout") == 1);
  CHECK(runs(doc, "slow", "rejected") == 1);
  CHECK(prom::samples_named(doc, "weft_runs_total").size() == 8);  // 2 flows x 4 statuses
  for (const auto& s : doc.samples) {
    if (s.labels.count("flow")) CHECK(s.labels.at("flow") != "nope");
  }
  CHECK(prom::sample_value(doc, "weft_runs_inflight", {}) == 1);

  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "200"}}) == 4);
  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "404"}}) == 1);
  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "503"}}) == 1);
  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "400"}}) == 1);
  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "other"}}) == 2);
  CHECK(prom::samples_named(doc, "weft_http_requests_total").size() == 5);  // codes seen only

  const std::pair<const char*, const char*> families[] = {
      {"weft_runs_total", "counter"},
      {"weft_run_duration_seconds", "histogram"},
      {"weft_runs_inflight", "gauge"},
      {"weft_http_requests_total", "counter"},
      {"weft_spans_exported_total", "counter"},
      {"weft_spans_dropped_total", "counter"},
      {"weft_spans_spooled_total", "counter"},
      {"weft_export_queue_spans", "gauge"},
      {"weft_spool_bytes", "gauge"},
      {"weft_spool_records_damaged_total", "counter"},
      {"weft_spool_bytes_quarantined", "gauge"}};
  CHECK(doc.families.size() == std::size(families));
  for (auto [name, type] : families) {
    INFO(name);
    const auto* f = prom::find_family(doc, name);
    REQUIRE(f != nullptr);
    CHECK(f->type == type);
    CHECK_FALSE(f->help.empty());
  }
}

TEST_CASE("metrics: histogram buckets, +Inf, _count and _sum", "[metrics]") {
  metrics m;
  m.register_flow("f");
  m.register_flow("idle");
  // Each observation and the first bucket (le) that holds it.
  const std::pair<double, double> observed[] = {
      {0.0005, 0.001}, {0.001, 0.001},  // le is inclusive
      {0.003, 0.005},  {0.2, 0.25},    {0.2, 0.25},
      {1.5, 2.5},      {60, 60},       {100, std::numeric_limits<double>::infinity()}};
  std::int64_t sum_us = 0;
  for (auto [seconds, le] : observed) {
    m.run_started();
    m.run_finished("f", run_status::ok, seconds);
    sum_us += std::llround(seconds * 1e6);
  }
  m.run_started();
  m.run_finished("f", run_status::failed, -1);  // clock bug: counts as 0
  m.run_started();
  m.run_finished("f", run_status::timeout, std::numeric_limits<double>::quiet_NaN());
  m.run_rejected("f");  // no duration
  const double count = std::size(observed) + 2;

  auto doc = scrape(m);
  auto cumulative = buckets(doc, "f");
  for (std::size_t i = 0; i < metrics::duration_buckets.size(); ++i) {
    double bound = metrics::duration_buckets[i];
    double expected = 2;  // the -1 and the NaN
    for (auto [seconds, le] : observed) expected += le <= bound ? 1 : 0;
    INFO("le=" << bound);
    CHECK(cumulative[i] == expected);
  }
  CHECK(cumulative.back() == count);
  CHECK(prom::sample_value(doc, "weft_run_duration_seconds_count", {{"flow", "f"}}) == count);
  CHECK(runs(doc, "f", "ok") + runs(doc, "f", "failed") + runs(doc, "f", "timeout") == count);
  CHECK(sum_us == 161904500);
  CHECK(prom::sample_value(doc, "weft_run_duration_seconds_sum", {{"flow", "f"}}) ==
        static_cast<double>(sum_us) / 1e6);

  // A registered flow without runs shows a full histogram at 0.
  for (double c : buckets(doc, "idle")) CHECK(c == 0);
  CHECK(prom::sample_value(doc, "weft_run_duration_seconds_sum", {{"flow", "idle"}}) == 0);
  CHECK(m.inflight() == 0);
}

TEST_CASE("metrics: label values are escaped and read back unchanged", "[metrics]") {
  const std::string odd = "a\"b\\c";
  const std::string multiline = "line1\nline2";
  metrics m;
  m.register_flow(odd);
  m.register_flow(multiline);
  m.run_started();
  m.run_finished(odd, run_status::ok, 0.5);
  m.run_rejected(multiline);

  exporter_stats ex;
  sink_stats s;
  s.name = "si\"nk";
  s.dropped["why\\not"] = 7;
  ex.sinks.push_back(s);

  const auto text = m.render(ex);
  CHECK(text.find(R"(weft_runs_total{flow="a\"b\\c",status="ok"} 1)") != std::string::npos);
  CHECK(text.find(R"({flow="line1\nline2",status="rejected"} 1)") != std::string::npos);
  auto r = prom::parse(text);
  INFO(r.error);
  REQUIRE(r);
  CHECK(runs(r.doc, odd, "ok") == 1);
  CHECK(runs(r.doc, multiline, "rejected") == 1);
  CHECK(prom::sample_value(r.doc, "weft_run_duration_seconds_bucket",
                           {{"flow", odd}, {"le", "0.5"}}) == 1);
  CHECK(prom::sample_value(r.doc, "weft_spans_dropped_total",
                           {{"sink", "si\"nk"}, {"reason", "why\\not"}}) == 7);
}

TEST_CASE("metrics: exporter snapshot series", "[metrics]") {
  metrics m;
  exporter_stats ex;
  ex.spans_received = 100;
  sink_stats otlp;
  otlp.name = "otlp";
  otlp.exported = 90;
  otlp.spooled = 6;
  otlp.queued = 4;
  otlp.spool_bytes = 12345;
  otlp.dropped = {{"queue_full", 2}, {"rejected", 3}, {"spool_full", 0}};
  sink_stats file;
  file.name = "file";  // all zero, nothing dropped
  ex.sinks = {otlp, file};

  auto doc = scrape(m, ex);
  auto value = [&](const char* name, prom::label_map labels) {
    return prom::sample_value(doc, name, labels);
  };
  CHECK(value("weft_spans_exported_total", {{"sink", "otlp"}}) == 90);
  CHECK(value("weft_spans_spooled_total", {{"sink", "otlp"}}) == 6);
  CHECK(value("weft_export_queue_spans", {{"sink", "otlp"}}) == 4);
  CHECK(value("weft_spool_bytes", {{"sink", "otlp"}}) == 12345);
  CHECK(value("weft_spans_dropped_total", {{"sink", "otlp"}, {"reason", "queue_full"}}) == 2);
  CHECK(value("weft_spans_dropped_total", {{"sink", "otlp"}, {"reason", "rejected"}}) == 3);
  // A reason present in the snapshot shows even at 0.
  CHECK(value("weft_spans_dropped_total", {{"sink", "otlp"}, {"reason", "spool_full"}}) == 0);
  // Every sink's other series show even at 0; it has no reasons, so no drops.
  CHECK(value("weft_spans_exported_total", {{"sink", "file"}}) == 0);
  CHECK(value("weft_spans_spooled_total", {{"sink", "file"}}) == 0);
  CHECK(value("weft_export_queue_spans", {{"sink", "file"}}) == 0);
  CHECK(value("weft_spool_bytes", {{"sink", "file"}}) == 0);
  CHECK(prom::samples_named(doc, "weft_spans_dropped_total").size() == 3);

  SECTION("sinks sharing a name are summed into one set of series") {
    sink_stats again = otlp;
    again.dropped = {{"queue_full", 1}, {"timeout", 5}};
    ex.sinks.push_back(again);
    auto twice = scrape(m, ex);  // the parser rejects duplicate series
    CHECK(prom::sample_value(twice, "weft_spans_exported_total", {{"sink", "otlp"}}) == 180);
    CHECK(prom::sample_value(twice, "weft_spool_bytes", {{"sink", "otlp"}}) == 24690);
    CHECK(prom::sample_value(twice, "weft_spans_dropped_total",
                             {{"sink", "otlp"}, {"reason", "queue_full"}}) == 3);
    CHECK(prom::sample_value(twice, "weft_spans_dropped_total",
                             {{"sink", "otlp"}, {"reason", "timeout"}}) == 5);
  }
  SECTION("no sinks (tracing off): the families stay, without samples") {
    auto off = scrape(m, {});
    CHECK(prom::find_family(off, "weft_spans_exported_total") != nullptr);
    CHECK(prom::samples_named(off, "weft_spans_exported_total").empty());
    CHECK(prom::samples_named(off, "weft_spool_bytes").empty());
  }
}

TEST_CASE("metrics: 8 threads x 10,000 events give exact totals", "[metrics]") {
  constexpr int threads = 8;
  constexpr int per_thread = 10000;
  const std::vector<std::string> flows = {"alpha", "beta", "gamma"};
  metrics m;
  for (const auto& f : flows) m.register_flow(f);

  // Event j of thread t, the same on every run of the test: a run that
  // ends ok, failed or timeout, or a rejection (of a known or unknown flow).
  struct event {
    std::string flow;
    int kind;  // 0..2: run_status, 3: rejected
    std::int64_t micros;
    int code;
  };
  auto event_of = [&](int t, int j) {
    int kind = (t + j) % 5 == 4 ? 3 : (t + j) % 5 % 3;
    bool unknown = j % 97 == 0;
    std::int64_t micros = (j % 11) * 1500 + t;  // whole microseconds: an exact sum
    return event{unknown ? "unknown" : flows[static_cast<std::size_t>(j % 3)], kind, micros,
                 kind == 3 ? 503 : 200};
  };

  std::atomic<bool> done{false};
  std::atomic<bool> scraping{false};
  int scrapes = 0;
  std::string scrape_error;  // Catch's assertions are for the main thread only
  // Scrapes race the recording: each must parse and keep +Inf == _count.
  std::thread scraper([&] {
    scraping = true;
    // At least one scrape even when the workers finish first (a loaded
    // machine may not schedule this thread before they do).
    do {
      auto r = prom::parse(m.render({}));
      if (!r) scrape_error = r.error;
      for (const auto& f : flows) {
        auto* b = prom::find_sample(r.doc, "weft_run_duration_seconds_bucket",
                                    {{"flow", f}, {"le", "+Inf"}});
        auto* c = prom::find_sample(r.doc, "weft_run_duration_seconds_count", {{"flow", f}});
        if (r && (!b || !c || b->value != c->value)) scrape_error = "+Inf != _count for " + f;
      }
      ++scrapes;
    } while (!done.load() && scrape_error.empty());
  });
  while (!scraping.load()) std::this_thread::yield();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int j = 0; j < per_thread; ++j) {
        auto e = event_of(t, j);
        if (e.kind == 3) {
          m.run_rejected(e.flow);
        } else {
          m.run_started();
          m.run_finished(e.flow, static_cast<run_status>(e.kind),
                         static_cast<double>(e.micros) / 1e6);
        }
        m.http_request(e.code);
      }
    });
  }
  for (auto& w : workers) w.join();
  done = true;
  scraper.join();

  std::map<std::string, std::array<double, 4>> expected_runs;
  std::map<std::string, std::int64_t> expected_us;
  double ok_codes = 0, busy_codes = 0;
  for (int t = 0; t < threads; ++t) {
    for (int j = 0; j < per_thread; ++j) {
      auto e = event_of(t, j);
      (e.code == 200 ? ok_codes : busy_codes) += 1;
      if (e.flow == "unknown") continue;
      expected_runs[e.flow][static_cast<std::size_t>(e.kind)] += 1;
      if (e.kind != 3) expected_us[e.flow] += e.micros;
    }
  }

  auto doc = scrape(m);
  const char* statuses[] = {"ok", "failed", "timeout", "rejected"};
  double all = 0;
  for (const auto& f : flows) {
    INFO(f);
    const auto& want = expected_runs[f];
    for (std::size_t i = 0; i < 4; ++i) {
      CHECK(runs(doc, f, statuses[i]) == want[i]);
      all += want[i];
    }
    CHECK(buckets(doc, f).back() == want[0] + want[1] + want[2]);
    CHECK(prom::sample_value(doc, "weft_run_duration_seconds_sum", {{"flow", f}}) ==
          static_cast<double>(expected_us[f]) / 1e6);
  }
  CHECK(all < threads * per_thread);  // the unknown flow's events are not per flow
  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "200"}}) == ok_codes);
  CHECK(prom::sample_value(doc, "weft_http_requests_total", {{"code", "503"}}) == busy_codes);
  CHECK(ok_codes + busy_codes == threads * per_thread);
  CHECK(m.inflight() == 0);
  CHECK(prom::sample_value(doc, "weft_runs_inflight", {}) == 0);
  CHECK(scrape_error == "");
  CHECK(scrapes > 0);
}

TEST_CASE("prometheus text: the parser rejects malformed lines, naming them", "[metrics]") {
  const std::string head = "# HELP x_total Things.\n# TYPE x_total counter\n";
  auto error_of = [](const std::string& text) {
    auto r = prom::parse(text);
    CHECK_FALSE(r);
    CHECK(r.doc.samples.empty());
    return r.error;
  };
  using Catch::Matchers::Contains;
  using Catch::Matchers::StartsWith;

  SECTION("bad label syntax") {
    CHECK_THAT(error_of(head + "x_total{a=\"1\"} 1\nx_total{b\"2\"} 1\n"),
               StartsWith("line 4: bad label syntax") && Contains("expected '='"));
    CHECK_THAT(error_of(head + "x_total{a=\"1} 1\n"), StartsWith("line 3: bad label syntax"));
    CHECK_THAT(error_of(head + "x_total{a=\"\\t\"} 1\n"), StartsWith("line 3: bad label syntax"));
    CHECK_THAT(error_of(head + "x_total{a=\"1\" b=\"2\"} 1\n"),
               StartsWith("line 3: bad label syntax"));
    CHECK_THAT(error_of(head + "x_total{a=\"1\",a=\"2\"} 1\n"),
               StartsWith("line 3: bad label syntax"));
    CHECK_THAT(error_of(head + "x_total{1a=\"1\"} 1\n"), StartsWith("line 3: bad label syntax"));
  }
  SECTION("unknown TYPE") {
    CHECK_THAT(error_of("# TYPE x_total countr\nx_total 1\n"),
               StartsWith("line 1: unknown TYPE 'countr'"));
    CHECK_THAT(error_of(head + "# TYPE x_total gauge\n"), StartsWith("line 3: second TYPE"));
  }
  SECTION("sample without a matching TYPE family") {
    CHECK_THAT(error_of("y_total 1\n"),
               StartsWith("line 1: sample 'y_total' has no matching TYPE"));
    CHECK_THAT(error_of(head + "x_total 1\ny_total 1\n"), StartsWith("line 4: sample 'y_total'"));
    // A histogram's family takes _bucket, _sum and _count, not the bare name.
    CHECK_THAT(error_of("# TYPE h histogram\nh 1\n"), StartsWith("line 2: sample 'h'"));
    CHECK_THAT(error_of("# HELP z Only help.\nz 1\n"), StartsWith("line 2: sample 'z'"));
  }
  SECTION("non-numeric value") {
    CHECK_THAT(error_of(head + "x_total one\n"), StartsWith("line 3: non-numeric value 'one'"));
    CHECK_THAT(error_of(head + "x_total 1.5x\n"), StartsWith("line 3: non-numeric value"));
    CHECK_THAT(error_of(head + "x_total\n"),
               StartsWith("line 3: expected a blank before the value"));
  }
  SECTION("other breaches") {
    CHECK_THAT(error_of(head + "x_total 1\nx_total 2\n"),
               StartsWith("line 4: series x_total appears twice"));
    CHECK_THAT(error_of(head + "x_total 1"), StartsWith("line 3: missing the newline"));
    CHECK_THAT(error_of(head + "x_total 1 12ab\n"), StartsWith("line 3: bad timestamp"));
    CHECK_THAT(error_of("# TYPE h histogram\nh_bucket 1\n"),
               StartsWith("line 2: histogram bucket"));
    CHECK_THAT(error_of(head + "# TYPE y gauge\n# TYPE x_total counter\n"),
               StartsWith("line 4: the lines of family 'x_total' are not one group"));
  }
}

TEST_CASE("prometheus text: the parser reads the format's corners", "[metrics]") {
  const std::string text =
      "# a plain comment\n"
      "\n"
      "# HELP g A \\\\ and a\\nnewline.\n"
      "# TYPE g gauge\n"
      "g{a=\"x\\\"y\\\\z\\n\",b=\"\",} -1.5e3 1712000000000\n"
      "g{a=\"inf\"} +Inf\n"
      "g{a=\"nan\"} NaN\n"
      "  # TYPE h histogram\n"
      "h_bucket{le=\"0.5\"} 1\n"
      "h_bucket{le=\"+Inf\"} 2\n"
      "h_sum 0.75\n"
      "h_count 2\n";
  auto r = prom::parse(text);
  INFO(r.error);
  REQUIRE(r);
  REQUIRE(r.doc.families.size() == 2);
  CHECK(r.doc.families[0].help == "A \\ and a\nnewline.");
  CHECK(r.doc.families[1].type == "histogram");
  CHECK(r.doc.families[1].help.empty());
  CHECK(prom::sample_value(r.doc, "g", {{"a", "x\"y\\z\n"}, {"b", ""}}) == -1500);
  CHECK(std::isinf(prom::sample_value(r.doc, "g", {{"a", "inf"}})));
  CHECK(std::isnan(prom::sample_value(r.doc, "g", {{"a", "nan"}})));
  CHECK(prom::sample_value(r.doc, "h_count", {}) == 2);
  CHECK(r.doc.samples.back().family == "h");

  // Absent series fail loudly, listing what is there.
  CHECK_THROWS_WITH(prom::sample_value(r.doc, "g", {{"a", "nope"}}),
                    Catch::Matchers::Contains("no sample g{a=\"nope\"}") &&
                        Catch::Matchers::Contains("g{a=\"inf\"}"));
  CHECK_THROWS_AS(prom::sample_value(r.doc, "missing", {}), std::runtime_error);
}
