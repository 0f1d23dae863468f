// `weft serve` under pressure: --max-inflight backpressure, and /metrics
// counters that match exactly what the test did.
#include <thread>

#include <catch2/catch.hpp>

#include "support/prometheus_text.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

prometheus::parsed scrape(std::uint16_t port) {
  auto r = http_exchange(port, get_request("/metrics"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(r->header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  auto p = prometheus::parse(r->body);
  INFO(p.error);
  REQUIRE(p);
  return p.doc;
}

}  // namespace

TEST_CASE("serve: over --max-inflight, requests get 503 with Retry-After and nothing breaks",
          "[serve]") {
  serve::service_config sc;
  sc.max_inflight = 10;
  serve_fixture f(sc);
  constexpr int n = 40;
  std::vector<std::unique_ptr<raw_conn>> conns;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<raw_conn>(f.port()));
    REQUIRE(conns.back()->ok());
  }
  // All 40 go out before the first 300 ms run can finish.
  for (auto& c : conns) REQUIRE(c->send(json_post("/v1/flows/slow/runs", "{}")));
  int ok = 0, busy = 0;
  for (auto& c : conns) {
    auto r = c->read_response(10s);
    REQUIRE(r);
    if (r->status == 200) {
      ++ok;
    } else {
      REQUIRE(r->status == 503);
      CHECK(r->header("Retry-After") == "1");
      CHECK(r->body.find("\"overloaded\"") != std::string::npos);
      ++busy;
    }
  }
  CHECK(ok + busy == n);
  CHECK(ok >= 10);
  CHECK(busy >= 1);
  CHECK(f.svc->runs_in_flight() == 0);

  auto m = scrape(f.port());
  CHECK(prometheus::sample_value(m, "weft_runs_total", {{"flow", "slow"}, {"status", "ok"}}) == ok);
  CHECK(prometheus::sample_value(m, "weft_runs_total",
                                 {{"flow", "slow"}, {"status", "rejected"}}) == busy);
  CHECK(prometheus::sample_value(m, "weft_http_requests_total", {{"code", "503"}}) == busy);
  CHECK(prometheus::sample_value(m, "weft_runs_inflight", {}) == 0);

  // Capacity is back once the runs are done.
  auto again = http_exchange(f.port(), json_post("/v1/flows/slow/runs", "{}"));
  REQUIRE(again);
  CHECK(again->status == 200);
}

TEST_CASE("serve: /metrics parses as Prometheus text and counts what happened",
          "[serve][metrics]") {
  serve_fixture f;
  for (int i = 0; i < 3; ++i) {
    auto r = http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 1}})"));
    REQUIRE(r);
    REQUIRE(r->status == 200);
  }
  REQUIRE(http_exchange(f.port(), json_post("/v1/flows/boom/runs", "{}"))->status == 422);
  REQUIRE(
      http_exchange(f.port(), json_post("/v1/flows/slow/runs", R"({"timeout_ms": 30})"))->status ==
      504);
  REQUIRE(http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"({"inputs": {}})"))->status ==
          400);
  REQUIRE(http_exchange(f.port(), get_request("/nowhere"))->status == 404);
  REQUIRE(http_exchange(f.port(), get_request("/v1/flows/unknown"))->status == 404);
  REQUIRE(http_exchange(f.port(), "GARBAGE\r\n\r\n")->status == 400);

  auto m = scrape(f.port());
  using prometheus::sample_value;
  CHECK(sample_value(m, "weft_runs_total", {{"flow", "echo"}, {"status", "ok"}}) == 3);
  CHECK(sample_value(m, "weft_runs_total", {{"flow", "echo"}, {"status", "rejected"}}) == 1);
  CHECK(sample_value(m, "weft_runs_total", {{"flow", "boom"}, {"status", "failed"}}) == 1);
  CHECK(sample_value(m, "weft_runs_total", {{"flow", "slow"}, {"status", "timeout"}}) == 1);
  CHECK(sample_value(m, "weft_runs_total", {{"flow", "fan"}, {"status", "ok"}}) == 0);
  CHECK(sample_value(m, "weft_run_duration_seconds_count", {{"flow", "echo"}}) == 3);
  CHECK(sample_value(m, "weft_run_duration_seconds_bucket", {{"flow", "echo"}, {"le", "+Inf"}}) ==
        3);
  CHECK(sample_value(m, "weft_run_duration_seconds_count", {{"flow", "slow"}}) == 1);
  CHECK(sample_value(m, "weft_runs_inflight", {}) == 0);
  CHECK(sample_value(m, "weft_http_requests_total", {{"code", "200"}}) == 3);
  CHECK(sample_value(m, "weft_http_requests_total", {{"code", "422"}}) == 1);
  CHECK(sample_value(m, "weft_http_requests_total", {{"code", "504"}}) == 1);
  CHECK(sample_value(m, "weft_http_requests_total", {{"code", "400"}}) == 2);  // inputs + garbage
  CHECK(sample_value(m, "weft_http_requests_total", {{"code", "404"}}) == 2);
  // The exporter's series exist for the configured sink.
  CHECK(prometheus::find_sample(m, "weft_spans_exported_total", {{"sink", "memory"}}));
  CHECK(prometheus::find_sample(m, "weft_export_queue_spans", {{"sink", "memory"}}));
  CHECK(prometheus::find_sample(m, "weft_spool_bytes", {{"sink", "memory"}}));

  // The scrape itself is counted once it is written.
  auto m2 = scrape(f.port());
  CHECK(sample_value(m2, "weft_http_requests_total", {{"code", "200"}}) == 4);
  // Spans of the 5 runs (3 echo x 2, boom 2, slow 2) reach the sink and the counter.
  for (int i = 0;
       i < 100 && sample_value(m2, "weft_spans_exported_total", {{"sink", "memory"}}) < 10; ++i) {
    std::this_thread::sleep_for(20ms);
    m2 = scrape(f.port());
  }
  CHECK(sample_value(m2, "weft_spans_exported_total", {{"sink", "memory"}}) == 10);
}
