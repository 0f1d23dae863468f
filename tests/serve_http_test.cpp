// `weft serve` over real loopback HTTP: every route, every error status,
// trace propagation, keep-alive and pipelining, and the connection limits.
#include <thread>

#include <catch2/catch.hpp>

#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"
#include "tracing/traceparent.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

flows::value body_json(const raw_response& r) {
  auto v = flows::value::parse(r.body, nullptr, false);
  INFO(r.body);
  REQUIRE(!v.is_discarded());
  return v;
}

std::string error_code_of(const raw_response& r) {
  return body_json(r)["error"]["code"].get<std::string>();
}

}  // namespace

TEST_CASE("serve: health, readiness, flow listing and description", "[serve]") {
  serve_fixture f;
  auto h = http_exchange(f.port(), get_request("/healthz"));
  REQUIRE(h);
  CHECK(h->status == 200);
  CHECK(body_json(*h)["status"] == "ok");

  auto ready = http_exchange(f.port(), get_request("/readyz"));
  REQUIRE(ready);
  CHECK(ready->status == 200);
  CHECK(body_json(*ready)["flows"] == 4);

  auto list = http_exchange(f.port(), get_request("/v1/flows"));
  REQUIRE(list);
  CHECK(list->status == 200);
  auto flows = body_json(*list)["flows"];
  REQUIRE(flows.size() == 4);
  CHECK(flows[0]["name"] == "boom");  // sorted by name

  auto one = http_exchange(f.port(), get_request("/v1/flows/echo"));
  REQUIRE(one);
  CHECK(one->status == 200);
  auto d = body_json(*one);
  CHECK(d["name"] == "echo");
  CHECK(d["nodes"] == 1);
  REQUIRE(d["inputs"].size() == 2);
  // In declaration order.
  CHECK(d["inputs"][0]["name"] == "x");
  CHECK(d["inputs"][0]["required"] == true);
  CHECK(d["inputs"][1]["name"] == "n");
  CHECK(d["inputs"][1]["type"] == "integer");
  CHECK(d["inputs"][1]["required"] == false);
  CHECK(d["inputs"][1]["default"] == 1);
  CHECK(d["outputs"][0]["name"] == "y");
  CHECK(d["outputs"][0]["from"] == "first.value");
}

TEST_CASE("serve: a run answers 200 with outputs and the root span's traceparent", "[serve]") {
  serve_fixture f;
  auto r = http_exchange(
      f.port(),
      json_post("/v1/flows/echo/runs",
                R"({"inputs": {"x": {"k": [1, 2]}}, "session_id": "s-9", "user_id": "u-9"})"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  auto b = body_json(*r);
  CHECK(b["outputs"]["y"]["k"][1] == 2);
  CHECK(b["run_id"].get<std::string>().size() == 36);
  CHECK(b["duration_ms"].get<double>() >= 0);
  auto trace = b["trace_id"].get<std::string>();
  REQUIRE(r->header("traceparent"));
  auto tp = tracing::parse_traceparent(*r->header("traceparent"));
  REQUIRE(tp);
  CHECK(tp->trace.to_hex() == trace);

  auto spans = f.wait_spans(trace, 2);
  REQUIRE(spans.size() == 2);
  auto* root = find_span(spans, "echo");
  REQUIRE(root);
  CHECK(root->id == tp->parent);  // the header names the run's root span
  for (auto& s : spans) {
    CHECK(str_attr(s, "session.id") == "s-9");
    CHECK(str_attr(s, "user.id") == "u-9");
  }
}

TEST_CASE("serve: an incoming traceparent makes the run a child of the caller's span", "[serve]") {
  serve_fixture f;
  const std::string caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string caller_span = "00f067aa0ba902b7";
  auto r = http_exchange(
      f.port(),
      json_post("/v1/flows/fan/runs", R"({"inputs": {"x": "hi"}})",
                "traceparent: 00-" + caller_trace + "-" + caller_span +
                    "-01\r\nX-Session-Id: hs\r\nX-User-Id: hu\r\n"
                    "tracestate: congo=t61rcWkgMzE\r\ntracestate: rojo=00f067aa0ba902b7\r\n"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  CHECK(body_json(*r)["trace_id"] == caller_trace);
  CHECK(body_json(*r)["outputs"]["all"] == "hi|hi|hi|hi");
  auto spans = f.wait_spans(caller_trace, 6);
  REQUIRE(spans.size() == 6);
  auto* root = find_span(spans, "fan");
  REQUIRE(root);
  CHECK(root->parent.to_hex() == caller_span);
  auto tp = tracing::parse_traceparent(*r->header("traceparent"));
  REQUIRE(tp);
  CHECK(tp->parent == root->id);
  for (auto& s : spans) {
    CHECK(str_attr(s, "session.id") == "hs");  // from the headers
    CHECK(str_attr(s, "user.id") == "hu");
    CHECK(s.trace_state == "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");  // both fields, in order
    if (&s != root) CHECK(s.parent == root->id);
  }
}

TEST_CASE("serve: 404 for unknown flows and paths, 405 with Allow for wrong methods", "[serve]") {
  serve_fixture f;
  auto r = http_exchange(f.port(), json_post("/v1/flows/nope/runs", "{}"));
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(error_code_of(*r) == "unknown_flow");
  CHECK(body_json(*r)["error"]["message"].get<std::string>().find("'nope'") != std::string::npos);

  r = http_exchange(f.port(), get_request("/v2/whatever"));
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(error_code_of(*r) == "not_found");

  r = http_exchange(f.port(), get_request("/v1/flows/echo/runs"));
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->header("Allow") == "POST");
  CHECK(error_code_of(*r) == "method_not_allowed");

  r = http_exchange(f.port(), json_post("/v1/flows", "{}"));
  REQUIRE(r);
  CHECK(r->status == 405);
  CHECK(r->header("Allow") == "GET");
}

TEST_CASE("serve: 400 for bad JSON and bad inputs, naming the field", "[serve]") {
  serve_fixture f;
  auto r = http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 1,})"));
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(error_code_of(*r) == "invalid_json");

  r = http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"({"inputs": {}})"));
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(error_code_of(*r) == "invalid_inputs");
  CHECK(body_json(*r)["error"]["details"][0]["field"] == "inputs.x");

  r = http_exchange(f.port(),
                    json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 1, "n": "two"}})"));
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(*r)["error"]["details"][0]["field"] == "inputs.n");
  CHECK(body_json(*r)["error"]["message"].get<std::string>().find("expected integer") !=
        std::string::npos);

  r = http_exchange(f.port(),
                    json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 1}, "colour": "red"})"));
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(*r)["error"]["details"][0]["field"] == "colour");

  r = http_exchange(f.port(),
                    json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 1}, "timeout_ms": -4})"));
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(*r)["error"]["details"][0]["field"] == "timeout_ms");

  r = http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"([1, 2])"));
  REQUIRE(r);
  CHECK(r->status == 400);
}

TEST_CASE("serve: 411, 413 and 415 for bodies the server will not read", "[serve]") {
  serve_fixture f({}, [] {
    net::http_server_config hc;
    hc.limits.max_body_bytes = 1000;
    return hc;
  }());
  raw_conn chunked(f.port());
  chunked.send(
      "POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\n\r\n");
  auto r = chunked.read_response();
  REQUIRE(r);
  CHECK(r->status == 411);
  CHECK(error_code_of(*r) == "length_required");
  CHECK(chunked.closed_by_peer());

  r = http_exchange(f.port(), "POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\n\r\n");
  REQUIRE(r);
  CHECK(r->status == 411);

  // 413 comes from the Content-Length alone: the body is never sent.
  raw_conn big(f.port());
  big.send(
      "POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
      "Content-Length: 5000\r\n\r\n");
  r = big.read_response();
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(error_code_of(*r) == "body_too_large");
  CHECK(big.closed_by_peer());

  r = http_exchange(f.port(),
                    "POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                    "Content-Length: 2\r\n\r\nhi");
  REQUIRE(r);
  CHECK(r->status == 415);
  CHECK(error_code_of(*r) == "unsupported_media_type");

  // A JSON media type with parameters is JSON.
  r = http_exchange(f.port(),
                    "POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\nContent-Type: "
                    "application/json; charset=utf-8\r\n"
                    "Content-Length: 18\r\n\r\n{\"inputs\":{\"x\":1}}");
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("serve: 422 names the failing node, 504 for a run past its timeout", "[serve]") {
  serve_fixture f;
  auto r = http_exchange(f.port(), json_post("/v1/flows/boom/runs", "{}"));
  REQUIRE(r);
  CHECK(r->status == 422);
  auto b = body_json(*r);
  CHECK(b["error"]["code"] == "run_failed");
  CHECK(b["error"]["details"][0]["node"] == "bad");
  CHECK(b["error"]["message"].get<std::string>().find("broke on purpose") != std::string::npos);
  CHECK(r->header("traceparent"));

  r = http_exchange(f.port(), json_post("/v1/flows/slow/runs", R"({"timeout_ms": 50})"));
  REQUIRE(r);
  CHECK(r->status == 504);
  CHECK(error_code_of(*r) == "run_timeout");
}

TEST_CASE("serve: malformed requests get 400 and a closed connection; the server lives on",
          "[serve]") {
  serve_fixture f;
  for (const std::string& bad :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /x HTTP/9.9\r\n\r\n"),
        std::string("GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n"),
        std::string("GET / HTTP/1.1\r\nBad Header\r\n\r\n"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
    raw_conn c(f.port());
    REQUIRE(c.send(bad));
    auto r = c.read_response();
    INFO(bad);
    REQUIRE(r);
    CHECK(r->status >= 400);
    CHECK(r->status < 506);
    CHECK(r->header("Connection") == "close");
    CHECK(c.closed_by_peer());
  }
  // Oversized headers: 431.
  raw_conn c(f.port());
  c.send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n");
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 431);
  CHECK(c.closed_by_peer());

  auto h = http_exchange(f.port(), get_request("/healthz"));
  REQUIRE(h);
  CHECK(h->status == 200);
}

TEST_CASE("serve: keep-alive, and pipelined requests answered in order", "[serve]") {
  serve_fixture f;
  raw_conn c(f.port());
  // The slow run comes first: its answer must still come first.
  REQUIRE(c.send(json_post("/v1/flows/slow/runs", R"({"inputs": {"x": "first"}})") +
                 json_post("/v1/flows/echo/runs", R"({"inputs": {"x": "second"}})") +
                 get_request("/healthz")));
  auto a = c.read_response();
  auto b = c.read_response();
  auto h = c.read_response();
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(h);
  CHECK(body_json(*a)["outputs"]["y"] == "first");
  CHECK(body_json(*b)["outputs"]["y"] == "second");
  CHECK(h->status == 200);
  // Still open: one more request on the same connection.
  REQUIRE(c.send(get_request("/v1/flows/echo")));
  auto d = c.read_response();
  REQUIRE(d);
  CHECK(d->status == 200);

  // HEAD: the headers of the GET answer, Content-Length included, no body;
  // the connection goes on with the next request.
  REQUIRE(c.send("HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n" + get_request("/healthz")));
  auto head = c.read_response(10s, true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("Content-Length") == "15");
  CHECK(head->body.empty());
  auto after = c.read_response();
  REQUIRE(after);
  CHECK(after->status == 200);
  CHECK(after->body == R"({"status":"ok"})");

  // HTTP/1.0 and "Connection: close" end the connection after the answer.
  raw_conn old(f.port());
  old.send("GET /healthz HTTP/1.0\r\n\r\n");
  auto r = old.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(old.closed_by_peer());
  raw_conn closing(f.port());
  // A request pipelined after the last one is never run.
  closing.send(get_request("/healthz", "Connection: close\r\n") +
               json_post("/v1/flows/echo/runs", R"({"inputs": {"x": "never"}})"));
  r = closing.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(!closing.read_response(500ms));
  CHECK(closing.closed_by_peer());
  std::this_thread::sleep_for(100ms);
  CHECK(f.store->snapshot().size() ==
        4);  // the two runs above (slow, echo: 2 spans each), no third
}

TEST_CASE("serve: slow clients get 408, idle connections close, dropped ones harm nobody",
          "[serve]") {
  net::http_server_config hc;
  hc.request_timeout = 300ms;
  hc.idle_timeout = 400ms;
  serve_fixture f({}, hc);

  // Slowloris: half a request, then nothing.
  raw_conn slow(f.port());
  slow.send("POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n");
  auto t0 = std::chrono::steady_clock::now();
  auto r = slow.read_response(5s);
  REQUIRE(r);
  CHECK(r->status == 408);
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  CHECK(slow.closed_by_peer());

  // An idle keep-alive connection is closed quietly.
  raw_conn idle(f.port());
  idle.send(get_request("/healthz"));
  REQUIRE(idle.read_response());
  CHECK(idle.closed_by_peer(3s));

  // Dropped mid-body and mid-run: the server goes on serving.
  {
    raw_conn drop(f.port());
    drop.send(
        "POST /v1/flows/echo/runs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{\"inputs\":");
  }
  {
    raw_conn gone(f.port());
    gone.send(json_post("/v1/flows/slow/runs", "{}"));
  }
  std::this_thread::sleep_for(500ms);
  auto ok = http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 3}})"));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(f.server->requests_in_flight() == 0);
}

TEST_CASE("serve: bearer auth with WEFT_API_KEY; /healthz stays open", "[serve]") {
  serve::service_config sc;
  sc.api_key = "s3cr3t-key";
  serve_fixture f(sc);
  auto r = http_exchange(f.port(), get_request("/v1/flows"));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->header("WWW-Authenticate") == "Bearer realm=\"weft\"");
  CHECK(error_code_of(*r) == "unauthorized");

  r = http_exchange(f.port(), get_request("/v1/flows", "Authorization: Bearer s3cr3t-kez\r\n"));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->body.find("s3cr3t") == std::string::npos);

  r = http_exchange(f.port(), json_post("/v1/flows/echo/runs", R"({"inputs": {"x": 1}})",
                                        "Authorization: bearer s3cr3t-key\r\n"));
  REQUIRE(r);
  CHECK(r->status == 200);

  r = http_exchange(f.port(), get_request("/healthz"));
  REQUIRE(r);
  CHECK(r->status == 200);
  r = http_exchange(f.port(), get_request("/metrics"));
  REQUIRE(r);
  CHECK(r->status == 401);
}

TEST_CASE("serve: connections over --max-connections get 503", "[serve]") {
  net::http_server_config hc;
  hc.max_connections = 2;
  serve_fixture f({}, hc);
  raw_conn a(f.port()), b(f.port());
  REQUIRE(a.send(get_request("/healthz")));
  REQUIRE(b.send(get_request("/healthz")));
  REQUIRE(a.read_response());
  REQUIRE(b.read_response());
  raw_conn c(f.port());
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 503);
  CHECK(error_code_of(*r) == "too_many_connections");
  CHECK(r->header("Retry-After"));
  a.close();
  std::this_thread::sleep_for(200ms);
  auto ok = http_exchange(f.port(), get_request("/healthz"));
  REQUIRE(ok);
  CHECK(ok->status == 200);
}
