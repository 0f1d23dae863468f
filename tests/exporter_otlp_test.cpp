// The OTLP/HTTP sink end to end: engine -> exporter -> http_client -> a real
// collector on 127.0.0.1, with scripted failures, outages and a bounded
// spool. Assertions are on the span ids the collector received.
#include <filesystem>
#include <fstream>
#include <set>

#include "export/http_sink.hpp"
#include "support/engine_fixture.hpp"
#include "support/test_collector.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;
namespace fs = std::filesystem;
using weft::test::fault;
using weft::test::test_collector;

namespace {

std::string fresh_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("weft-exporter-" + std::to_string(getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

engine_options otlp_options(const test_collector& c, const std::string& spool_root) {
  engine_options o;
  o.settings.tracing.batch_delay_ms = 20;
  o.settings.tracing.batch_max_spans = 64;
  config::otlp_settings s;
  s.endpoint = c.base_url() + "/v1/traces";
  s.headers = {{"x-tenant", "acme"}};
  s.timeout_ms = 2000;
  o.settings.exporter.otlp = s;
  o.settings.exporter.spool_dir = spool_root;
  o.settings.exporter.retry_initial_ms = 50;
  o.settings.exporter.retry_max_ms = 400;
  o.settings.exporter.shutdown_timeout_ms = 10000;
  return o;
}

// Every span id the collector received, with how often each came.
std::map<std::uint64_t, int> received_ids(const test_collector& c,
                                          std::size_t* bad_bodies = nullptr) {
  std::map<std::uint64_t, int> ids;
  for (auto& r : c.requests()) {
    if (r.answered_status < 200 || r.answered_status >= 300) continue;
    std::string err;
    auto spans = tracing::read_otlp_json_line(r.body, &err);
    if (!err.empty() && bad_bodies) ++*bad_bodies;
    for (auto& s : spans) ++ids[s.id.value];
  }
  return ids;
}

std::vector<run_result> run_n(engine& eng, int n) {
  auto flow = test::must_load(eng, test::two_node_flow);
  std::vector<std::future<run_result>> fs;
  for (int i = 0; i < n; ++i) fs.push_back(eng.run(flow, {{"x", i}}));
  std::vector<run_result> out;
  for (auto& f : fs) {
    out.push_back(f.get());
    REQUIRE(out.back().ok);
  }
  return out;
}

const exporting::sink_stats& otlp_stats(const exporting::exporter_stats& s) {
  for (auto& x : s.sinks)
    if (x.name == "otlp") return x;
  FAIL("no otlp sink in the stats");
  throw 0;
}

}  // namespace

TEST_CASE("otlp: spans arrive as OTLP/JSON with the configured headers", "[exporter]") {
  test_collector c;
  auto spool = fresh_dir("plain");
  engine eng(otlp_options(c, spool));
  run_n(eng, 100);
  REQUIRE(eng.shutdown());
  std::size_t bad = 0;
  auto ids = received_ids(c, &bad);
  CHECK(bad == 0);
  CHECK(ids.size() == 300);
  auto reqs = c.requests();
  REQUIRE_FALSE(reqs.empty());
  CHECK(reqs[0].path == "/v1/traces");
  CHECK(reqs[0].header("Content-Type") == std::optional<std::string>("application/json"));
  CHECK(reqs[0].header("x-tenant") == std::optional<std::string>("acme"));
  CHECK_FALSE(reqs[0].was_gzip);
  auto st = otlp_stats(eng.stats());
  CHECK(st.exported == 300);
  CHECK(st.dropped.empty());
}

TEST_CASE("otlp: gzip bodies when compression is on", "[exporter]") {
  test_collector c;
  auto o = otlp_options(c, fresh_dir("gzip"));
  o.settings.exporter.otlp->gzip = true;
  engine eng(std::move(o));
  run_n(eng, 20);
  REQUIRE(eng.shutdown());
  auto reqs = c.requests();
  REQUIRE_FALSE(reqs.empty());
  for (auto& r : reqs) CHECK(r.was_gzip);
  CHECK(received_ids(c).size() == 60);
}

TEST_CASE("otlp: 429, 502, 503, 504, resets and timeouts are retried until delivered",
          "[exporter]") {
  test_collector c;
  c.script({fault::answer(503), fault::answer(429), fault::answer(502), fault::answer(504),
            fault::reset_connection(), fault::delay_by(3000)});
  engine eng(otlp_options(c, fresh_dir("retry")));
  run_n(eng, 30);
  REQUIRE(eng.shutdown());
  auto ids = received_ids(c);
  CHECK(ids.size() == 90);
  auto st = otlp_stats(eng.stats());
  std::string trail;
  for (auto& r : c.requests())
    trail += std::to_string(r.script_step) + ":" + std::to_string(r.answered_status) + " ";
  INFO("collector saw (step:status): " << trail);
  CHECK(st.retried > 0);
  // Six scripted failures; libcurl itself resends a request once when a
  // reused keep-alive connection turns out to be dead (the reset), so the
  // sink may see only five of them.
  CHECK(st.failed_batches >= 5);
  CHECK(st.dropped.empty());
  CHECK(st.exported + st.replayed >= 90);
}

TEST_CASE("otlp: other 4xx and 500 are not retried; the batch is dead-lettered", "[exporter]") {
  // (413 splits the batch instead: exporter_hardening_test.cpp.)
  for (int status : {400, 401, 404, 500}) {
    DYNAMIC_SECTION("status " << status) {
      test_collector c;
      c.script({fault::answer(status)});
      auto spool = fresh_dir("reject" + std::to_string(status));
      auto o = otlp_options(c, spool);
      o.settings.tracing.batch_max_spans = 100000;  // everything in one batch
      o.settings.tracing.batch_delay_ms = 200;
      engine eng(std::move(o));
      run_n(eng, 10);
      eng.shutdown();
      auto st = otlp_stats(eng.stats());
      CHECK(st.dead_lettered_batches == 1);
      CHECK(st.dropped["rejected"] == 30);
      CHECK(st.retried == 0);
      CHECK(c.request_count() == 1);
      std::ifstream dl(fs::path(spool) / "otlp" / "dead-letter.jsonl");
      std::string line;
      REQUIRE(std::getline(dl, line));
      auto j = nlohmann::json::parse(line);
      CHECK(j["spans"] == 30);
      CHECK(j["url"] == c.base_url() + "/v1/traces");
      CHECK(tracing::read_otlp_json_line(j["body"].get<std::string>(), nullptr).size() == 30);
    }
  }
}

TEST_CASE("otlp: Retry-After is honoured, as seconds and as an HTTP-date", "[exporter]") {
  CHECK(exporting::parse_retry_after("2", 0) == 2000);
  CHECK(exporting::parse_retry_after(" 0 ", 0) == 0);
  CHECK(exporting::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 3) == 3000);
  CHECK(exporting::parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 10) == 0);
  CHECK_FALSE(exporting::parse_retry_after("soon", 0));
  CHECK_FALSE(exporting::parse_retry_after("-1", 0));

  test_collector c;
  c.script({fault::answer(429, {{"Retry-After", "2"}})});
  auto o = otlp_options(c, fresh_dir("retry-after"));
  o.settings.tracing.batch_max_spans = 100000;
  o.settings.tracing.batch_delay_ms = 100;
  engine eng(std::move(o));
  run_n(eng, 5);
  REQUIRE(c.wait_for([&] { return c.request_count() >= 1; }, std::chrono::seconds(5)));
  auto first = std::chrono::steady_clock::now();
  REQUIRE(c.wait_for([&] { return c.request_count() >= 2; }, std::chrono::seconds(10)));
  auto waited = std::chrono::steady_clock::now() - first;
  // The backoff alone would be ~50 ms; the server asked for 2 s.
  CHECK(waited >= std::chrono::milliseconds(1800));
  REQUIRE(eng.shutdown());
  CHECK(received_ids(c).size() == 15);
}

TEST_CASE("otlp: partialSuccess.rejectedSpans is counted", "[exporter]") {
  test_collector c;
  c.script({fault::answer(
      200, {}, R"({"partialSuccess":{"rejectedSpans":"2","errorMessage":"bad attrs"}})")});
  auto o = otlp_options(c, fresh_dir("partial"));
  o.settings.tracing.batch_max_spans = 100000;
  o.settings.tracing.batch_delay_ms = 200;
  engine eng(std::move(o));
  run_n(eng, 4);
  eng.shutdown();
  auto st = otlp_stats(eng.stats());
  CHECK(st.dropped["rejected_by_backend"] == 2);
  CHECK(st.exported == 10);
}

TEST_CASE("otlp: an outage while 5,000 runs complete loses no span", "[exporter]") {
  test_collector c;
  auto port = c.port();
  c.stop();
  auto o = otlp_options(c, fresh_dir("outage"));
  o.settings.tracing.batch_max_spans = 512;
  engine eng(std::move(o));
  auto t0 = std::chrono::steady_clock::now();
  auto results = run_n(eng, 5000);
  auto run_time = std::chrono::steady_clock::now() - t0;
  // Runs do not wait for the backend.
  CHECK(run_time < std::chrono::seconds(20));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // still down: spans pile up on disk
  auto mid = otlp_stats(eng.stats());
  CHECK(mid.spooled > 0);
  c.start();
  REQUIRE(c.port() == port);
  REQUIRE(eng.shutdown());
  auto ids = received_ids(c);
  CHECK(ids.size() == 15000);
  std::size_t dups = 0;
  for (auto& [_, n] : ids) dups += static_cast<std::size_t>(n - 1);
  // No response was lost in this test (the collector was down, not flaky),
  // so at-least-once delivery should have delivered exactly once.
  CHECK(dups == 0);
  auto st = otlp_stats(eng.stats());
  CHECK(st.dropped.empty());
  CHECK(st.replayed > 0);
}

TEST_CASE("otlp: a tiny spool and a dead backend: bounded disk, counted drops, runs at full speed",
          "[exporter]") {
  test_collector c;
  c.stop();
  auto root = fresh_dir("bounded");
  auto o = otlp_options(c, root);
  o.settings.exporter.spool_max_bytes = 64 * 1024;
  o.settings.exporter.max_queue_spans = 256;
  o.settings.exporter.shutdown_timeout_ms = 500;
  engine eng(std::move(o));
  auto t0 = std::chrono::steady_clock::now();
  run_n(eng, 3000);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20));
  eng.shutdown();
  auto st = otlp_stats(eng.stats());
  CHECK(st.received == 9000);
  CHECK(st.dropped["spool_full"] > 0);
  CHECK(st.spool_bytes <= 64 * 1024);
  std::uintmax_t on_disk = 0;
  for (auto& e : fs::directory_iterator(fs::path(root) / "otlp"))
    if (e.path().extension() == ".wspool") on_disk += e.file_size();
  CHECK(on_disk <= 64 * 1024);
  // Every span is accounted for: delivered, on disk, or dropped with a reason.
  std::uint64_t dropped = 0;
  for (auto& [_, n] : st.dropped) dropped += n;
  CHECK(st.spooled + dropped + st.exported >= st.received);
}

TEST_CASE("otlp: batches are cut by bytes as well as by count", "[exporter]") {
  test_collector c;
  auto o = otlp_options(c, fresh_dir("bytes"));
  o.settings.tracing.batch_max_spans = 100000;
  o.settings.tracing.batch_max_bytes = 64 * 1024;
  o.settings.tracing.batch_delay_ms = 10000;  // only size (and the final flush) cut batches
  o.settings.tracing.content = true;
  engine eng(std::move(o));
  auto flow = test::must_load(eng, test::two_node_flow);
  std::vector<std::future<run_result>> fs;
  std::string big(2000, 'x');
  for (int i = 0; i < 100; ++i) fs.push_back(eng.run(flow, {{"x", big}}));
  for (auto& f : fs) REQUIRE(f.get().ok);
  REQUIRE(eng.shutdown());
  auto reqs = c.requests();
  CHECK(reqs.size() >= 8);  // ~100 runs x 3 spans x ~2.5 KB / 64 KiB
  for (auto& r : reqs) CHECK(r.body.size() < 100 * 1024);
  CHECK(received_ids(c).size() == 300);
}
