// The `http.request` node type against a real loopback server: outputs,
// JSON and text bodies, expected statuses, each retry rule and Retry-After,
// one CLIENT span per attempt with the OTel HTTP attributes, redaction of
// the URL, and bad params as located validation errors.
#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/loopback_server.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

std::string flow_for(const std::string& params, const std::string& inputs = "{}") {
  return "flow: h\ninputs: {p: {type: any, default: 1}}\nnodes:\n  call:\n    type: http.request\n"
         "    params: " +
         params + "\n    inputs: " + inputs +
         "\noutputs: {status: call.status, body: call.body, headers: call.headers, ok: call.ok}\n";
}

std::vector<tracing::span_record> spans_named(const std::vector<tracing::span_record>& all,
                                              const std::string& name) {
  std::vector<tracing::span_record> out;
  for (auto& s : all)
    if (s.name == name) out.push_back(s);
  std::sort(out.begin(), out.end(),
            [](auto& a, auto& b) { return a.start_unix_ns < b.start_unix_ns; });
  return out;
}

std::vector<tracing::span_record> trace_spans(span_store& st, const std::string& trace,
                                              std::size_t n) {
  for (int i = 0; i < 300; ++i) {
    auto s = spans_of(st.snapshot(), trace);
    if (s.size() >= n) return s;
    std::this_thread::sleep_for(10ms);
  }
  return spans_of(st.snapshot(), trace);
}

std::int64_t int_attr(const tracing::span_record& s, std::string_view key) {
  auto v = s.find(key);
  return v && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v) : -1;
}

}  // namespace

TEST_CASE("http.request: JSON and text bodies, lower-case headers, templated URL and body",
          "[components][http_request]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow =
      must_load(eng, flow_for(R"({method: post, url: ")" + srv.url("/items/{{p}}?json=1") +
                                  R"(", body: '{"q": "{{p}}"}', headers: {X-Trace-Me: "v-{{p}}"}})",
                              "{p: $inputs.p}"));
  auto r = eng.run(flow, {{"p", 7}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("status") == 200);
  CHECK(r.outputs.at("ok") == true);
  CHECK(r.outputs.at("body")["ok"] == true);  // parsed, not text
  CHECK(r.outputs.at("headers")["x-test-header"] == "Value");
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].method == "POST");
  CHECK(reqs[0].target == "/items/7?json=1");
  CHECK(reqs[0].body == R"({"q": "7"})");
  CHECK(reqs[0].header("X-Trace-Me") == "v-7");
  // Text when the answer is not JSON.
  flow = must_load(eng, flow_for(R"({url: ")" + srv.url("/plain") + R"("})"));
  r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("body") == "ok");
}

TEST_CASE("http.request: an input named body is sent as JSON", "[components][http_request]") {
  loopback_server srv;
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = must_load(
      eng, flow_for(R"({method: PUT, url: ")" + srv.url("/put") + R"("})", "{body: $inputs.p}"));
  auto r = eng.run(flow, {{"p", {{"a", 1}}}}).get();
  REQUIRE(r.ok);
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].body == R"({"a":1})");
  CHECK(reqs[0].header("Content-Type") == "application/json");
}

TEST_CASE("http.request: an unexpected status fails the node, naming the status and the body",
          "[components][http_request]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, flow_for(R"({url: ")" + srv.url("/missing?status=404") + R"("})"));
  auto r = eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("answered 404 (expected 2xx): ok") != std::string::npos);
  auto spans = trace_spans(*st, r.trace_id, 3);
  auto* node = find_span(spans, "call");
  REQUIRE(node);
  CHECK(str_attr(*node, "error.type") == "http.404");
  // 404 is no retry reason: one attempt.
  CHECK(srv.request_count() == 1);
  // expect_status widens what counts as success.
  flow = must_load(eng, flow_for(R"({url: ")" + srv.url("/missing?status=404") +
                                 R"(", expect_status: [2xx, 404]})"));
  r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("status") == 404);
}

TEST_CASE("http.request: 5xx and 429 are retried, each attempt its own span with resend_count",
          "[components][http_request]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow =
      must_load(eng, flow_for(R"({url: ")" + srv.url("/flaky?status=503&fail_first=2&key=1") +
                              R"(", retry: {max_attempts: 3, initial_ms: 10, max_ms: 20}})"));
  auto r = eng.run(flow, {}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(srv.request_count() == 3);
  auto spans = trace_spans(*st, r.trace_id, 5);
  auto attempts = spans_named(spans, "HTTP GET");
  REQUIRE(attempts.size() == 3);
  auto* node = find_span(spans, "call");
  REQUIRE(node);
  for (std::size_t i = 0; i < attempts.size(); ++i) {
    auto& a = attempts[i];
    CHECK(a.parent == node->id);
    CHECK(a.kind == tracing::span_kind::client);
    CHECK(str_attr(a, "http.request.method") == "GET");
    CHECK(str_attr(a, "server.address") == "127.0.0.1");
    CHECK(int_attr(a, "server.port") == srv.port());
    CHECK(str_attr(a, "url.full") == "http://127.0.0.1:" + std::to_string(srv.port()) + "/flaky");
    CHECK(int_attr(a, "http.response.status_code") == (i < 2 ? 503 : 200));
    CHECK(int_attr(a, "http.request.resend_count") == (i == 0 ? -1 : static_cast<std::int64_t>(i)));
    if (i < 2) CHECK(str_attr(a, "error.type") == "503");
  }
  // Each attempt sent its own span's traceparent.
  auto reqs = srv.requests();
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(reqs[i].header("traceparent") ==
          "00-" + r.trace_id + "-" + attempts[i].id.to_hex() + "-01");
  // Out of attempts: the last status fails the node.
  flow = must_load(eng, flow_for(R"({url: ")" + srv.url("/down?status=429&fail_first=9&key=2") +
                                 R"(", retry: {max_attempts: 2, initial_ms: 5, max_ms: 5}})"));
  r = eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("answered 429") != std::string::npos);
  // Retrying only on transport errors: a 503 is final.
  flow = must_load(eng, flow_for(R"({url: ")" + srv.url("/x?status=503&fail_first=1&key=3") +
                                 R"(", retry: {on: [transport], initial_ms: 5}})"));
  r = eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
}

TEST_CASE("http.request: Retry-After is honoured", "[components][http_request]") {
  loopback_server srv;
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = must_load(
      eng, flow_for(R"({url: ")" + srv.url("/busy?status=503&fail_first=1&key=4&retry_after=1") +
                    R"(", retry: {initial_ms: 1, max_ms: 2}})"));
  auto t0 = std::chrono::steady_clock::now();
  auto r = eng.run(flow, {}).get();
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE(r.ok);
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 2);
  // The backoff alone would have waited 1-2 ms; the server asked for 1 s.
  CHECK(reqs[1].received - reqs[0].received >= 900ms);
  CHECK(took >= 900ms);
}

TEST_CASE("http.request: transport errors are retried and typed", "[components][http_request]") {
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  // A port nothing listens on.
  int port;
  {
    loopback_server gone;
    port = gone.port();
  }
  auto flow = must_load(eng, flow_for("{url: \"http://127.0.0.1:" + std::to_string(port) +
                                      "/\", retry: {max_attempts: 2, initial_ms: 5, max_ms: 5}}"));
  auto r = eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("failed after 2 attempt(s)") != std::string::npos);
  auto spans = trace_spans(*st, r.trace_id, 4);
  auto attempts = spans_named(spans, "HTTP GET");
  REQUIRE(attempts.size() == 2);
  CHECK(str_attr(attempts[0], "error.type") == "connect");
  auto* node = find_span(spans, "call");
  REQUIRE(node);
  CHECK(str_attr(*node, "error.type") == "http.connect");
}

TEST_CASE("http.request: the URL on spans has no userinfo and no query; header values never show",
          "[components][http_request]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto url = "http://alice:pw@127.0.0.1:" + std::to_string(srv.port()) + "/secret?token=abc123";
  auto flow = must_load(
      eng, flow_for("{url: \"" + url + "\", headers: {Authorization: \"Bearer hdr-value-123\"}}"));
  auto r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  auto spans = trace_spans(*st, r.trace_id, 3);
  auto attempts = spans_named(spans, "HTTP GET");
  REQUIRE(attempts.size() == 1);
  CHECK(str_attr(attempts[0], "url.full") ==
        "http://127.0.0.1:" + std::to_string(srv.port()) + "/secret");
  for (auto& s : spans)
    for (auto& a : s.attributes)
      if (auto* v = std::get_if<std::string>(&a.value)) {
        CHECK(v->find("hdr-value-123") == std::string::npos);
        CHECK(v->find("abc123") == std::string::npos);
        CHECK(v->find("pw@") == std::string::npos);
      }
  CHECK(srv.requests()[0].header("Authorization") == "Bearer hdr-value-123");
}

TEST_CASE("http.request: bad URLs, schemes and params are validation errors at their line",
          "[components][http_request]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  auto errors_of = [&](const std::string& params) {
    auto r = eng.load_string(flow_for(params), "bad.yaml");
    std::string all;
    for (auto& d : r.errors) all += d.to_string() + "\n";
    CHECK_FALSE(r.flow);
    return all;
  };
  auto e = errors_of(R"({url: "ftp://example.com/file"})");
  CHECK(e.find("bad.yaml:6:") != std::string::npos);
  CHECK(e.find("must start with http:// or https://") != std::string::npos);
  e = errors_of(R"({url: "http://x/{{#open}}"})");
  CHECK(e.find("does not parse as a template") != std::string::npos);
  e = errors_of(R"({url: "http://x/", method: FETCH})");
  CHECK(e.find("'FETCH' is not one of") != std::string::npos);
  e = errors_of(R"({url: "http://x/", retry: {max_attempts: 0}})");
  CHECK(e.find("max_attempts 1..20") != std::string::npos);
  e = errors_of(R"({url: "http://x/", expect_status: [2xx, teapot]})");
  CHECK(e.find("expect_status") != std::string::npos);
  // A URL whose scheme comes from an input is checked when it runs.
  auto r = eng.run(must_load(eng, flow_for(R"({url: "{{p}}"})", "{p: $inputs.p}")),
                   {{"p", "file:///etc/passwd"}})
               .get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("not an http:// or https:// URL") != std::string::npos);
}
