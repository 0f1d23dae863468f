// node_context::http over real loopback HTTP (support/loopback_server.hpp):
// trace headers of the span given, parentage node span -> HTTP span, the
// public response (statuses, lower-case header names, error types), the
// body streamed through on_chunk (fuzzed boundaries), aborts when the node
// ends (the server sees the connection close, no callback runs after),
// calls after the end, exceptions in callbacks, and 2,000 runs in flight
// at once with an audit of every span.
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/lambda_component.hpp"
#include "support/loopback_server.hpp"
#include "tracing/traceparent.hpp"
#include "weft/component.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

http_request get(const loopback_server& srv, const std::string& target) {
  http_request r;
  r.url = srv.url(target);
  r.timeout = 10s;
  return r;
}

double ms_between(clock_type::time_point a, clock_type::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

const tracing::span_record* span_named(const std::vector<tracing::span_record>& spans,
                                       std::string_view name) {
  return find_span(spans, name);
}

}  // namespace

TEST_CASE(
    "http: a request under a child span carries its traceparent and tracestate; "
    "node span -> HTTP span",
    "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  add_type(eng, "call", [&srv](node_context& ctx, value_map) {
    auto s = ctx.start_span("http.get", span_kind::client);
    auto req = get(srv, "/hello?delay_ms=5");
    req.headers = {{"X-Custom", "yes"}, {"TraceParent", "00-stale"}};
    ctx.http(
        std::move(req),
        [&ctx, s](http_response r) mutable {
          s.set("http.response.status_code", static_cast<std::int64_t>(r.status)).end();
          value hdrs = value::object();
          for (auto& [k, v] : r.headers) hdrs[k] = v;
          ctx.complete({{"value", value{{"status", r.status},
                                        {"body", r.body},
                                        {"ok", r.ok()},
                                        {"error", r.error},
                                        {"headers", hdrs}}}});
        },
        {}, s);
  });
  auto flow = must_load(eng, one_node_flow("call"));
  run_options ro;
  ro.session_id = "sess-1";
  ro.user_id = "user-1";
  ro.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  ro.tracestate = "vendor=abc,other=1";
  auto r = eng.run(flow, {}, ro).get();
  REQUIRE(r.ok);
  auto out = r.outputs["y"];
  CHECK(out["status"] == 200);
  CHECK(out["body"] == "ok");
  CHECK(out["ok"] == true);
  CHECK(out["error"] == "");
  CHECK(out["headers"]["x-test-header"] == "Value");  // names lower-cased
  CHECK_FALSE(out["headers"].contains("X-Test-Header"));

  eng.shutdown();
  auto spans = spans_of(st->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 3);
  auto* run = span_named(spans, "f");
  auto* node = span_named(spans, "n");
  auto* http = span_named(spans, "http.get");
  REQUIRE(run);
  REQUIRE(node);
  REQUIRE(http);
  CHECK(node->parent == run->id);
  CHECK(http->parent == node->id);
  CHECK(http->kind == tracing::span_kind::client);
  for (auto& s : spans) {
    CHECK(str_attr(s, "session.id") == "sess-1");
    CHECK(str_attr(s, "user.id") == "user-1");
  }
  auto got = srv.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].header("traceparent") == "00-" + r.trace_id + "-" + http->id.to_hex() + "-01");
  CHECK(got[0].header("tracestate") == "vendor=abc,other=1");
  CHECK(got[0].header("x-custom") == "yes");
  // The component's own traceparent was replaced, not sent twice.
  int tp_count = 0;
  for (auto& [k, v] : got[0].headers)
    tp_count += (k.size() == 11 && strncasecmp(k.c_str(), "traceparent", 11) == 0);
  CHECK(tp_count == 1);
  // Header values never reach a span.
  for (auto& s : spans)
    for (auto& a : s.attributes) CHECK(a.key.find("x-custom") == std::string::npos);
}

TEST_CASE("http: without a span the node's traceparent goes; no tracestate when the run has none",
          "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  add_type(eng, "plain", [&srv](node_context& ctx, value_map) {
    ctx.http(get(srv, "/x"), [&ctx](http_response r) { ctx.complete({{"value", r.status}}); });
  });
  auto flow = must_load(eng, one_node_flow("plain"));
  auto r = eng.run(flow, {}, {}).get();
  REQUIRE(r.ok);
  eng.shutdown();
  auto spans = spans_of(st->snapshot(), r.trace_id);
  auto* node = span_named(spans, "n");
  REQUIRE(node);
  auto got = srv.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].header("traceparent") == "00-" + r.trace_id + "-" + node->id.to_hex() + "-01");
  CHECK_FALSE(got[0].header("tracestate"));
}

TEST_CASE("http: statuses are answers, transport failures are error types", "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  // A port that refuses: bound, then closed.
  std::string refused;
  {
    loopback_server gone;
    refused = gone.url("/");
  }
  add_type(eng, "many", [&](node_context& ctx, value_map) {
    auto results = std::make_shared<std::map<std::string, value>>();
    auto note = [&ctx, results](std::string key) {
      return [&ctx, results, key](http_response r) {
        (*results)[key] = value{{"status", r.status},
                                {"ok", r.ok()},
                                {"error_type", r.error_type},
                                {"has_error", !r.error.empty()}};
        if (results->size() == 3) {
          value all = value::object();
          for (auto& [k, v] : *results) all[k] = v;
          ctx.complete({{"value", all}});
        }
      };
    };
    ctx.http(get(srv, "/e?status=503"), note("503"));
    auto to_refused = get(srv, "/x");
    to_refused.url = refused;
    ctx.http(std::move(to_refused), note("refused"));
    auto slow = get(srv, "/slow?delay_ms=3000");
    slow.timeout = 100ms;
    ctx.http(std::move(slow), note("timeout"));
  });
  auto flow = must_load(eng, one_node_flow("many"));
  auto r = eng.run(flow, {}, {}).get();
  REQUIRE(r.ok);
  auto out = r.outputs["y"];
  CHECK(out["503"]["status"] == 503);
  CHECK(out["503"]["ok"] == false);
  CHECK(out["503"]["has_error"] == false);
  CHECK(out["503"]["error_type"] == "");
  CHECK(out["refused"]["error_type"] == "connect");
  CHECK(out["refused"]["has_error"] == true);
  CHECK(out["refused"]["status"] == 0);
  CHECK(out["timeout"]["error_type"] == "timeout");
}

TEST_CASE(
    "http: a node timeout during a slow response aborts it: the server sees the close, "
    "spans end in error, no callback runs after",
    "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  struct observed {
    std::atomic<int> chunks{0};
    std::atomic<int> chunks_at_cancel{-1};
    std::atomic<bool> responded{false};
    std::atomic<bool> callback_after_cancel{false};
    std::atomic<bool> cancelled{false};
    clock_type::time_point cancel_time;
  };
  auto obs = std::make_shared<observed>();
  add_type(eng, "slow", [&srv, obs](node_context& ctx, value_map) {
    auto s = ctx.start_span("http.stream", span_kind::client);
    ctx.on_cancel([obs] {
      obs->cancel_time = clock_type::now();
      obs->chunks_at_cancel = obs->chunks.load();
      obs->cancelled = true;
    });
    // A head at once, then a 10-byte chunk every 40 ms for 8 s.
    ctx.http(
        get(srv, "/slow?chunks=200&chunk_bytes=10&interval_ms=40"),
        [obs](http_response) {
          if (obs->cancelled) obs->callback_after_cancel = true;
          obs->responded = true;
        },
        [obs](std::string_view) {
          if (obs->cancelled) obs->callback_after_cancel = true;
          ++obs->chunks;
        },
        s);
  });
  auto flow = must_load(eng, one_node_flow("slow", 300));
  auto r = eng.run(flow, {}, {}).get();
  REQUIRE_FALSE(r.ok);
  CHECK(r.error.find("timeout") != std::string::npos);
  REQUIRE(obs->cancelled);
  REQUIRE(
      srv.wait_for([&] { return srv.request_count() == 1 && srv.requests()[0].closed_early; }, 2s));
  auto close_ms = ms_between(obs->cancel_time, *srv.requests()[0].closed_early);
  CHECK(close_ms < 100);
  // Chunks were flowing before the timeout, and none reached the
  // component after it (nor the response), however long we wait.
  std::this_thread::sleep_for(300ms);
  CHECK(obs->chunks_at_cancel.load() >= 3);
  CHECK(obs->chunks.load() == obs->chunks_at_cancel.load());
  CHECK_FALSE(obs->responded);
  CHECK_FALSE(obs->callback_after_cancel);

  eng.shutdown();
  auto spans = spans_of(st->snapshot(), r.trace_id);
  auto* node = span_named(spans, "n");
  auto* http = span_named(spans, "http.stream");
  REQUIRE(node);
  REQUIRE(http);
  CHECK(http->parent == node->id);
  CHECK(node->status == tracing::status_code::error);
  CHECK(http->status == tracing::status_code::error);
  CHECK(http->status_message.find("aborted") != std::string::npos);
  CHECK(str_attr(*http, "error.type") == "aborted");
  CHECK(http->end_unix_ns > 0);
  WARN("node timeout to server-side close: " << close_ms << " ms");
}

TEST_CASE("http: calls after the node ended are no-ops, late responses run nothing",
          "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  std::atomic<bool> late_ran{false};
  add_type(eng, "early", [&](node_context& ctx, value_map) {
    // Still waiting for its head when the node completes.
    ctx.http(get(srv, "/late?delay_ms=2000"), [&](http_response) { late_ran = true; });
    ctx.http(get(srv, "/fast"), [&ctx, &srv, &late_ran](http_response r) {
      ctx.complete({{"value", r.status}});
      // The node has ended: this request must never be sent.
      ctx.http(get(srv, "/after-end"), [&late_ran](http_response) { late_ran = true; });
    });
  });
  auto flow = must_load(eng, one_node_flow("early"));
  auto r = eng.run(flow, {}, {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs["y"] == 200);
  REQUIRE(srv.wait_for(
      [&] {
        for (auto& q : srv.requests())
          if (q.target.starts_with("/late") && q.closed_early) return true;
        return false;
      },
      2s));
  std::this_thread::sleep_for(300ms);
  CHECK_FALSE(late_ran);
  for (auto& q : srv.requests()) CHECK(q.target != "/after-end");
  CHECK(srv.request_count() == 2);
}

TEST_CASE("http: an exception in a callback fails the node and aborts the request",
          "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  add_type(eng, "throws", [&srv](node_context& ctx, value_map) {
    ctx.http(
        get(srv, "/s?chunks=100&chunk_bytes=5&interval_ms=20"), [](http_response) {},
        [](std::string_view) { throw std::runtime_error("bad chunk"); });
  });
  auto flow = must_load(eng, one_node_flow("throws"));
  auto r = eng.run(flow, {}, {}).get();
  REQUIRE_FALSE(r.ok);
  CHECK(r.error.find("bad chunk") != std::string::npos);
  CHECK(
      srv.wait_for([&] { return srv.request_count() == 1 && srv.requests()[0].closed_early; }, 2s));
}

TEST_CASE("http: on_chunk gets the body in order whatever the chunk boundaries (fuzz)",
          "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  add_type(eng, "stream", [&srv](node_context& ctx, value_map in) {
    std::string target = in["value"];
    auto body = std::make_shared<std::string>();
    auto calls = std::make_shared<int>(0);
    auto empty_piece = std::make_shared<bool>(false);
    ctx.http(
        get(srv, target),
        [&ctx, body, calls, empty_piece](http_response r) {
          ctx.complete({{"value", value{{"body", *body},
                                        {"calls", *calls},
                                        {"status", r.status},
                                        {"rest", r.body},
                                        {"empty_piece", *empty_piece}}}});
        },
        [body, calls, empty_piece](std::string_view piece) {
          if (piece.empty()) *empty_piece = true;
          body->append(piece);
          ++*calls;
        });
  });
  auto flow = must_load(eng, one_node_flow("stream"));
  std::mt19937 rng(8080);
  for (int i = 0; i < 40; ++i) {
    int chunks = std::uniform_int_distribution<int>(1, 30)(rng);  // chunks=0 means a plain body
    int max_bytes = std::uniform_int_distribution<int>(1, 5000)(rng);
    int interval = std::uniform_int_distribution<int>(0, 2)(rng);
    auto target = "/f?chunks=" + std::to_string(chunks) +
                  "&chunk_bytes=" + std::to_string(max_bytes) + "&seed=" + std::to_string(i) +
                  "&interval_ms=" + std::to_string(interval);
    std::mt19937 replay(static_cast<unsigned>(i));
    std::size_t total = 0;
    for (int k = 0; k < chunks; ++k)
      total += std::uniform_int_distribution<std::size_t>(
          1, static_cast<std::size_t>(max_bytes))(replay);
    auto r = eng.run(flow, {{"x", target}}, {}).get();
    INFO(target);
    REQUIRE(r.ok);
    auto out = r.outputs["y"];
    CHECK(out["status"] == 200);
    CHECK(out["rest"] == "");  // the chunks took the body
    CHECK(out["empty_piece"] == false);
    CHECK(out["body"].get<std::string>() == pattern(0, total));
    if (total > 0) CHECK(out["calls"].get<int>() >= 1);
  }
}

TEST_CASE(
    "http: 2,000 runs in flight, each with its own call: every span in its own trace, "
    "the server saw each run's own traceparent",
    "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.http.max_connections = 1024;
  opts.settings.http.max_host_connections = 1024;
  engine eng(std::move(opts));
  add_type(eng, "call", [&srv](node_context& ctx, value_map in) {
    std::int64_t i = in["value"];
    auto s = ctx.start_span("http.call", span_kind::client);
    s.set("run.index", i);
    // A delay of 0..99 ms, the same for a given run index.
    auto req = get(srv, "/r?delay_ms=" + std::to_string((i * 7919) % 100));
    req.headers = {{"X-Run", std::to_string(i)}};
    ctx.http(
        std::move(req),
        [&ctx, s, i](http_response r) mutable {
          s.set("http.response.status_code", static_cast<std::int64_t>(r.status)).end();
          if (r.ok()) ctx.complete({{"value", i}});
          else ctx.fail("HTTP call failed: " + r.error, r.error_type);
        },
        {}, s);
  });
  auto flow = must_load(eng, one_node_flow("call"));
  constexpr int runs = 2000;
  std::mutex mu;
  std::vector<run_result> results(runs);
  std::atomic<int> done{0};
  auto t0 = clock_type::now();
  for (int i = 0; i < runs; ++i) {
    run_options ro;
    ro.session_id = "s" + std::to_string(i);
    ro.user_id = "u" + std::to_string(i);
    eng.run(flow, {{"x", i}}, ro, [&, i](run_result r) {
      std::lock_guard<std::mutex> lk(mu);
      results[static_cast<std::size_t>(i)] = std::move(r);
      ++done;
    });
  }
  // All of them in flight at once: the server holds each for up to 99 ms.
  REQUIRE(srv.wait_for([&] { return done.load() == runs; }, 60s));
  auto elapsed = ms_between(t0, clock_type::now());
  eng.shutdown();

  auto all = st->snapshot();
  std::map<std::string, std::vector<tracing::span_record>> by_trace;
  for (auto& s : all) by_trace[s.trace.to_hex()].push_back(s);
  std::map<std::string, loopback_request> by_run;
  for (auto& q : srv.requests())
    if (auto x = q.header("x-run")) by_run[*x] = q;
  CHECK(by_run.size() == static_cast<std::size_t>(runs));

  int bad = 0;
  for (int i = 0; i < runs && bad < 10; ++i) {
    auto& r = results[static_cast<std::size_t>(i)];
    INFO("run " << i << ": " << r.error);
    if (!r.ok) {
      ++bad;
      FAIL_CHECK("run failed");
      continue;
    }
    auto& spans = by_trace[r.trace_id];
    auto* node = span_named(spans, "n");
    auto* http = span_named(spans, "http.call");
    if (spans.size() != 3 || !node || !http) {
      ++bad;
      FAIL_CHECK("expected 3 spans (run, node, http), got " << spans.size());
      continue;
    }
    CHECK(http->parent == node->id);
    CHECK(node->parent.to_hex() == r.root_span_id);
    for (auto& s : spans) {
      CHECK(str_attr(s, "session.id") == "s" + std::to_string(i));
      CHECK(str_attr(s, "user.id") == "u" + std::to_string(i));
    }
    auto q = by_run.find(std::to_string(i));
    REQUIRE(q != by_run.end());
    CHECK(q->second.header("traceparent") == "00-" + r.trace_id + "-" + http->id.to_hex() + "-01");
  }
  CHECK(bad == 0);
  // No span is in a trace that is not its run's own.
  CHECK(by_trace.size() == static_cast<std::size_t>(runs));
  WARN(runs << " runs with one loopback HTTP call each (0-99 ms server delay): " << elapsed
            << " ms, " << srv.connections_accepted() << " connections");
}

TEST_CASE("http: the component client's limits come from WEFT_HTTP_* and name a bad one",
          "[http]") {
  config::engine_settings s;
  std::vector<std::string> errors;
  std::map<std::string, std::string> env = {{"WEFT_HTTP_MAX_CONNECTIONS", "300"},
                                            {"WEFT_HTTP_MAX_HOST_CONNECTIONS", "20"},
                                            {"WEFT_HTTP_MAX_RESPONSE_BYTES", "1048576"},
                                            {"WEFT_HTTP_STREAM_WINDOW_BYTES", "lots"}};
  config::apply_env(s, errors, [&](const char* name) -> std::optional<std::string> {
    auto i = env.find(name);
    if (i == env.end()) return std::nullopt;
    return i->second;
  });
  CHECK(s.http.max_connections == 300);
  CHECK(s.http.max_host_connections == 20);
  CHECK(s.http.max_response_bytes == 1048576);
  CHECK(s.http.stream_window_bytes == 1 << 20);  // kept: the value was bad
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("WEFT_HTTP_STREAM_WINDOW_BYTES") != std::string::npos);
}

TEST_CASE("http: a body over the engine's http_max_response_bytes fails the call",
          "[runtime][http]") {
  loopback_server srv;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.http.max_response_bytes = 4096;
  engine eng(std::move(opts));
  add_type(eng, "big", [&srv](node_context& ctx, value_map) {
    ctx.http(get(srv, "/big?body_bytes=10000"), [&ctx](http_response r) {
      ctx.complete({{"value", value{{"error_type", r.error_type}, {"status", r.status}}}});
    });
  });
  auto r = eng.run(must_load(eng, one_node_flow("big")), {}, {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs["y"]["error_type"] == "other");
  CHECK(r.outputs["y"]["status"] == 0);
}
