// `weft serve` streaming runs as Server-Sent Events, over real loopback
// sockets: the events in order on the wire (re-read at every byte split),
// ids, run_finished with the outputs or the error, heartbeats, keep-alive
// after the stream, a client that leaves (the run is cancelled, or goes on
// with on_disconnect: continue), and a client too slow to read (the stream
// ends with an error event, the run is cancelled, the overflow counted).
#include <catch2/catch.hpp>

#include "components/llm_sse.hpp"
#include "support/lambda_component.hpp"
#include "support/prometheus_text.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

// `ticker`: emits value.n chunks of value.size bytes ("tick i" when size
// is 0), value.ms apart, then completes with the count. Each timer owns a
// copy of the next step; a step that held itself (a shared std::function
// capturing its own pointer) would keep every run's node context alive.
struct tick_step {
  std::shared_ptr<node_context> c;
  int i, n, ms;
  std::size_t size;
  void operator()() const {
    if (i == n) return c->complete({{"value", n}});
    c->emit(size ? value(std::string(size, 'x')) : value("tick " + std::to_string(i)));
    c->after(std::chrono::milliseconds(ms), tick_step{c, i + 1, n, ms, size});
  }
};

void add_ticker(engine& eng) {
  add_type(eng, "ticker", [](node_context& ctx, value_map in) {
    auto v = in["value"];
    const int ms = v.value("ms", 0);
    ctx.after(std::chrono::milliseconds(ms), tick_step{ctx.shared_from_this(), 0, v.value("n", 3),
                                                       ms, v.value("size", std::size_t{0})});
  });
}

const std::vector<std::string> sse_flows = {
    "flow: ticks\ninputs: {x: {type: object}}\nnodes:\n  t: {type: ticker, inputs: {value: "
    "$inputs.x}}\n"
    "outputs: {count: t.value}\n",
    // The same, one sub-flow down: its events carry their path.
    "flow: nested\ninputs: {x: {type: object}}\nnodes:\n"
    "  sub: {type: flow, params: {flow: {flow: inner, inputs: {x: {type: object}}, nodes: {t: "
    "{type: ticker, "
    "inputs: {value: $inputs.x}}}, outputs: {count: t.value}}}, inputs: {x: $inputs.x}}\n"
    "outputs: {count: sub.count}\n",
    "flow: broken\nnodes:\n  boom: {type: fail, params: {message: no luck}}\noutputs: {v: "
    "boom.value}\n"};

serve::service_config quick_heartbeat(std::size_t cap = 1 << 20) {
  serve::service_config sc;
  sc.heartbeat = 100ms;
  sc.max_stream_buffer_bytes = cap;
  return sc;
}

struct parsed_event {
  std::string type, id;
  value data;
};

std::vector<parsed_event> parse_events(std::string_view body, std::size_t split = 0) {
  components::sse_parser p;
  std::vector<parsed_event> out;
  auto take = [&](const components::sse_event& e) {
    out.push_back({e.type, e.id, value::parse(e.data, nullptr, false)});
    return true;
  };
  if (split == 0 || split >= body.size()) {
    p.feed(body, take);
  } else {
    p.feed(body.substr(0, split), take);
    p.feed(body.substr(split), take);
  }
  return out;
}

std::string stream_post(const std::string& flow, const std::string& body, bool header = false) {
  return json_post("/v1/flows/" + flow + "/runs", body,
                   header ? "Accept: text/event-stream\r\n" : "");
}

}  // namespace

TEST_CASE("serve sse: the run's events in order, at every byte split, then keep-alive",
          "[serve][sse]") {
  serve_fixture f(quick_heartbeat(), {}, add_ticker, sse_flows);
  raw_conn c(f.port());
  REQUIRE(c.send(stream_post("nested", R"({"inputs": {"x": {"n": 4}}})", true)));
  auto r = c.read_response(10s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-type") == "text/event-stream");
  CHECK(r->header("transfer-encoding") == "chunked");
  CHECK(r->header("cache-control") == "no-cache");
  auto events = parse_events(r->body);
  // node_started sub, node_started t, 4 chunks, node_finished t, node_finished sub, run_finished
  REQUIRE(events.size() == 9);
  std::vector<std::string> types;
  for (auto& e : events) types.push_back(e.type);
  CHECK(types == std::vector<std::string>{"node_started", "node_started", "chunk", "chunk", "chunk",
                                          "chunk", "node_finished", "node_finished",
                                          "run_finished"});
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].id == std::to_string(i + 1));
  CHECK(events[1].data["path"] == value::array({"sub", "t"}));
  for (int k = 0; k < 4; ++k) CHECK(events[2 + k].data["data"] == "tick " + std::to_string(k));
  auto& done = events.back().data;
  CHECK(done["status"] == "ok");
  CHECK(done["outputs"]["count"] == 4);
  CHECK(done["trace_id"].get<std::string>().size() == 32);
  CHECK(done["run_id"].is_string());
  // The same events whatever split the bytes arrived in.
  for (std::size_t split = 1; split < r->body.size(); ++split) {
    auto again = parse_events(r->body, split);
    REQUIRE(again.size() == events.size());
    for (std::size_t i = 0; i < events.size(); ++i) REQUIRE(again[i].data == events[i].data);
  }
  // The connection stays open for the next request.
  REQUIRE(c.send(json_post("/v1/flows/ticks/runs", R"({"inputs": {"x": {"n": 1}}})")));
  auto plain = c.read_response();
  REQUIRE(plain);
  CHECK(plain->status == 200);
  CHECK(value::parse(plain->body)["outputs"]["count"] == 1);
}

TEST_CASE("serve sse: stream in the body, a failed run, heartbeats", "[serve][sse]") {
  serve_fixture f(quick_heartbeat(), {}, add_ticker, sse_flows);
  raw_conn c(f.port());
  REQUIRE(c.send(stream_post("broken", R"({"stream": true})")));
  auto r = c.read_response();
  REQUIRE(r);
  auto events = parse_events(r->body);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().data["status"] == "error");
  CHECK_THAT(events.back().data["error"].get<std::string>(), Catch::Contains("no luck"));
  CHECK(events.back().data["node"] == "boom");

  // A run that is quiet for 450 ms gets heartbeat comments (every 100 ms).
  REQUIRE(
      c.send(stream_post("ticks", R"({"stream": true, "inputs": {"x": {"n": 1, "ms": 450}}})")));
  auto slow = c.read_response();
  REQUIRE(slow);
  std::string raw;
  for (auto& chunk : slow->chunks) raw += chunk;
  CHECK(raw.find(": heartbeat\n\n") != std::string::npos);
  CHECK(parse_events(slow->body).back().data["status"] == "ok");
  REQUIRE(c.send(stream_post("ticks", R"({"stream": "yes"})")));
  auto bad = c.read_response();
  REQUIRE(bad);
  CHECK(bad->status == 400);
}

TEST_CASE("serve sse: a client that leaves cancels its run, unless it said continue",
          "[serve][sse]") {
  serve_fixture f(quick_heartbeat(), {}, add_ticker, sse_flows);
  std::string cancelled_trace, continued_trace;
  for (bool keep : {false, true}) {
    raw_conn c(f.port());
    std::string body = std::string(R"({"stream": true, "session_id": ")") +
                       (keep ? "keep" : "cancel") + R"(", "inputs": {"x": {"n": 20, "ms": 50}})" +
                       (keep ? R"(, "on_disconnect": "continue")" : "") + "}";
    REQUIRE(c.send(stream_post("ticks", body)));
    REQUIRE(c.read_until("tick 1", 5s));
    c.close();
  }
  // Wait for both runs to end, then look at their root spans.
  auto until = std::chrono::steady_clock::now() + 10s;
  const tracing::span_record *cancelled = nullptr, *continued = nullptr;
  while (std::chrono::steady_clock::now() < until && (!cancelled || !continued)) {
    std::this_thread::sleep_for(20ms);
    auto spans = f.store->snapshot();
    for (auto& s : spans) {
      if (s.name != "ticks") continue;
      if (str_attr(s, "session.id") == "cancel") cancelled_trace = s.trace.to_hex();
      if (str_attr(s, "session.id") == "keep") continued_trace = s.trace.to_hex();
    }
    static std::vector<tracing::span_record> keep_alive;
    keep_alive = spans;
    cancelled = continued = nullptr;
    for (auto& s : keep_alive) {
      if (s.name != "ticks") continue;
      if (s.trace.to_hex() == cancelled_trace) cancelled = &s;
      if (s.trace.to_hex() == continued_trace) continued = &s;
    }
    if (cancelled && continued) {
      CHECK(cancelled->status == tracing::status_code::error);
      CHECK_THAT(cancelled->status_message, Catch::Contains("client disconnected"));
      CHECK(continued->status != tracing::status_code::error);
      // The one that went on ran to the end: all 20 ticks, about 1 s.
      CHECK(continued->end_unix_ns - continued->start_unix_ns > 900'000'000);
    }
  }
  REQUIRE(cancelled);
  REQUIRE(continued);
  CHECK(f.svc->runs_in_flight() == 0);
}

TEST_CASE("serve sse: a client too slow to read gets an error event, and the overflow is counted",
          "[serve][sse]") {
  serve_fixture f(quick_heartbeat(32 * 1024), {}, add_ticker, sse_flows);
  raw_conn c(f.port(), 4096);  // a small window, and nothing read for now
  REQUIRE(c.send(
      stream_post("ticks", R"({"stream": true, "inputs": {"x": {"n": 5000, "size": 2000}}})")));
  auto until = std::chrono::steady_clock::now() + 10s;
  while (f.server->stream_overflows() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  REQUIRE(f.server->stream_overflows() == 1);
  CHECK(f.server->buffered_bytes() < 256 * 1024);
  auto r = c.read_response(10s);
  REQUIRE(r);
  auto events = parse_events(r->body);
  REQUIRE_FALSE(events.empty());
  CHECK(events.back().type == "error");
  CHECK_THAT(events.back().data["error"].get<std::string>(), Catch::Contains("too slowly"));
  // The run was cancelled, far short of its 5,000 chunks.
  while (f.svc->runs_in_flight() != 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(10ms);
  CHECK(f.svc->runs_in_flight() == 0);
  auto m = http_exchange(f.port(), get_request("/metrics"));
  REQUIRE(m);
  auto scrape = prometheus::parse(m->body);
  INFO(scrape.error);
  REQUIRE(scrape);
  auto value_of = [&](const char* name) {
    auto s = prometheus::find_sample(scrape.doc, name, {});
    return s ? s->value : -1.0;
  };
  CHECK(value_of("weft_sse_overflows_total") == 1);
  CHECK(value_of("weft_sse_streams_active") == 0);
  CHECK(value_of("weft_run_events_total") > 0);
}

TEST_CASE("serve sse: a chunk event printed field by field is the event to_json() prints",
          "[serve][sse]") {
  // The fast path must match the generic one byte for byte, for the bytes
  // that need escaping or replacing too.
  std::vector<run_event> cases;
  run_event e;
  e.type = run_event::kind::chunk;
  e.node = "ask";
  e.data = "plain";
  cases.push_back(e);
  e.path = {"sub", "in\"ner", "ask"};
  e.data = std::string("quote \" slash \\ newline \n tab \t ctl \x01 bad utf8 \xff\xfe end");
  cases.push_back(e);
  e.node = "n\xc3\xa9\n";
  e.path.clear();
  e.data = flows::value{{"tokens", 3}, {"text", "x\ny"}};
  cases.push_back(e);
  e.data = nullptr;
  cases.push_back(e);
  for (auto& c : cases) {
    auto generic = serve::sse_event(
        "chunk", c.to_json().dump(-1, ' ', false, flows::value::error_handler_t::replace), 42);
    CHECK(serve::run_event_sse(c, 42) == generic);
  }
}
