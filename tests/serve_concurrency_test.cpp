// A thousand concurrent HTTP requests, each with its own session, user and
// traceparent, against a flow with parallel branches and sleeps. The
// assertions are on the exported spans: one trace per request, rooted at
// the caller's span, no span of one run in another's trace, and session and
// user on every span.
#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

#include "net/http_load.hpp"
#include "support/serve_fixture.hpp"
#include "tracing/audit.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

TEST_CASE("serve: 1,000 concurrent requests, one correct trace each", "[serve][concurrency]") {
  constexpr int n = 1000;
  serve_fixture f;
  std::vector<std::string> traces(n), parents(n);
  for (int i = 0; i < n; ++i) {
    traces[i] = tracing::trace_id::random().to_hex();
    parents[i] = tracing::span_id::random().to_hex();
  }

  // The server's own count of runs in flight, sampled while the load runs.
  std::atomic<bool> sampling{true};
  std::atomic<std::int64_t> peak{0};
  std::thread sampler([&] {
    while (sampling) {
      auto now = f.svc->runs_in_flight();
      if (now > peak) peak = now;
      std::this_thread::sleep_for(1ms);
    }
  });

  net::http_load_config lc;
  lc.concurrency = n;
  lc.total = n;
  lc.timeout_ms = 60000;
  net::http_load load(lc);
  const std::string url = "http://127.0.0.1:" + std::to_string(f.port()) + "/v1/flows/fan/runs";
  std::vector<net::http_response> answers(n);
  auto stats = load.run(
      [&](std::int64_t i) {
        net::http_request r;
        r.method = "POST";
        r.url = url;
        r.headers = {{"Content-Type", "application/json"},
                     {"traceparent", "00-" + traces[i] + "-" + parents[i] + "-01"}};
        r.body = R"({"inputs": {"x": "r)" + std::to_string(i) + R"("}, "session_id": "s-)" +
                 std::to_string(i) + R"(", "user_id": "u-)" + std::to_string(i) + "\"}";
        return r;
      },
      [&](net::http_load_sample&& s) {
        answers[static_cast<std::size_t>(s.index)] = std::move(s.response);
      });
  sampling = false;
  sampler.join();

  CHECK(stats.max_in_flight == n);
  INFO("server peak runs in flight: " << peak.load());
  WARN("server peak runs in flight: " << peak.load());
  CHECK(peak.load() >= n / 4);  // the runs really overlapped on the server

  std::vector<tracing::audit_expectation> expect;
  for (int i = 0; i < n; ++i) {
    auto& a = answers[static_cast<std::size_t>(i)];
    INFO("request " << i << ": " << a.error_message << " " << a.body);
    REQUIRE(a.status == 200);
    auto body = flows::value::parse(a.body);
    REQUIRE(body["trace_id"] == traces[i]);
    REQUIRE(body["outputs"]["all"] == "r" + std::to_string(i) + "|r" + std::to_string(i) + "|r" +
                                          std::to_string(i) + "|r" + std::to_string(i));
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(traces[i]);
    e.remote_parent = *tracing::span_id::from_hex(parents[i]);
    e.run_id = body["run_id"].get<std::string>();
    e.session_id = "s-" + std::to_string(i);
    e.user_id = "u-" + std::to_string(i);
    e.expected_spans = 6;  // the run and its five nodes
    expect.push_back(std::move(e));
  }

  // Every span is exported before the engine reports it; wait for all.
  std::vector<tracing::span_record> spans;
  for (int i = 0; i < 500; ++i) {
    spans = f.store->snapshot();
    if (spans.size() >= 6 * static_cast<std::size_t>(n)) break;
    std::this_thread::sleep_for(10ms);
  }
  CHECK(spans.size() == 6 * static_cast<std::size_t>(n));
  auto report = tracing::audit_traces(spans, expect);
  for (auto& p : report.problems) UNSCOPED_INFO(p);
  CHECK(report.ok());
  CHECK(report.traces == static_cast<std::size_t>(n));
  CHECK(report.spans == 6 * static_cast<std::size_t>(n));
}
