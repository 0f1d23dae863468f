// `weft serve` under many concurrent Server-Sent Event streams: 2,000
// clients at once, each streaming a run whose sub-flow's llm.chat node
// streams 50 deltas from the scripted Chat Completions server. The deltas
// depend on the run's prompt, so every stream can check it got its own
// tokens, all of them, in order (no event of another run mixed in), with
// consecutive ids and run_finished last. Then every run's trace is audited
// (tracing/audit.hpp): one root, parents in the same trace and run, the
// child run hanging from the sub-flow's node span, session and user on
// every span, and exactly six spans: relay, sub, inner, ask, chat m1, HTTP
// POST.
//
// The engine's HTTP client keeps its default limit of 64 connections per
// host (serve_fixture builds the engine options itself), so most of the
// 2,000 model calls wait in the client for a connection; they still all
// complete.
#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>

#include "components/llm_sse.hpp"
#include "support/chat_server.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"
#include "tracing/audit.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t streams = 2000;
constexpr std::size_t deltas_per_stream = 50;
// run + sub node + child run + ask node + chat + HTTP POST
constexpr std::size_t spans_per_run = 6;

// The i-th delta of the answer to `prompt`.
std::string delta(const std::string& prompt, std::size_t i) {
  return "<" + prompt + ":" + std::to_string(i) + ">";
}

std::string answer(const std::string& prompt) {
  std::string s;
  for (std::size_t i = 0; i < deltas_per_stream; ++i) s += delta(prompt, i);
  return s;
}

// The prompt a chat request carries: its last message's content.
std::string prompt_of(const chat_request& r) {
  if (!r.json.is_object() || !r.json.contains("messages")) return {};
  auto& m = r.json["messages"];
  if (!m.is_array() || m.empty() || !m.back().contains("content") ||
      !m.back()["content"].is_string())
    return {};
  return m.back()["content"].get<std::string>();
}

std::string relay_flow(const chat_server& srv) {
  return "flow: relay\ninputs: {prompt: {type: string}}\nnodes:\n"
         "  sub:\n    type: flow\n    params:\n      flow:\n        flow: inner\n"
         "        inputs: {prompt: {type: string}}\n"
         "        nodes:\n          ask:\n            type: llm.chat\n"
         "            params: {model: m1, base_url: '" +
         srv.base_url() +
         "', stream: true}\n"
         "            inputs: {prompt: $inputs.prompt}\n"
         "        outputs: {text: ask.text}\n"
         "    inputs: {prompt: $inputs.prompt}\n"
         "outputs: {text: sub.text}\n";
}

struct parsed_event {
  std::string type, id;
  value data;
};

std::vector<parsed_event> parse_events(std::string_view body) {
  components::sse_parser p;
  std::vector<parsed_event> out;
  p.feed(body, [&](const components::sse_event& e) {
    out.push_back({e.type, e.id, value::parse(e.data, nullptr, false)});
    return true;
  });
  return out;
}

std::string prompt_for(std::size_t i) { return "p" + std::to_string(i); }
std::string session_for(std::size_t i) { return "s" + std::to_string(i); }
std::string user_for(std::size_t i) { return "u" + std::to_string(i % 13); }

// Checks one stream's response; "" when it is right, else what is wrong.
// On success fills the run's trace and run ids.
std::string check_stream(const std::optional<raw_response>& r, std::size_t i,
                         std::string& trace_hex, std::string& run_id) {
  if (!r) return "no response";
  if (r->status != 200) return "status " + std::to_string(r->status);
  if (r->header("content-type") != "text/event-stream") return "content-type not text/event-stream";
  auto events = parse_events(r->body);
  // node_started sub, node_started ask, the chunks, node_finished ask,
  // node_finished sub, run_finished
  if (events.size() != deltas_per_stream + 5) return "events: " + std::to_string(events.size());
  for (std::size_t k = 0; k < events.size(); ++k)
    if (events[k].id != std::to_string(k + 1))
      return "event " + std::to_string(k) + " has id " + events[k].id;
  const auto sub = value::array({"sub"}), inner = value::array({"sub", "ask"});
  auto expect = [&](std::size_t k, const char* type, const value& path) -> std::string {
    if (events[k].type != type)
      return "event " + std::to_string(k) + " is " + events[k].type + ", not " + type;
    if (events[k].data["path"] != path)
      return "event " + std::to_string(k) + " path " + events[k].data["path"].dump();
    return {};
  };
  if (auto e = expect(0, "node_started", sub); !e.empty()) return e;
  if (auto e = expect(1, "node_started", inner); !e.empty()) return e;
  const auto prompt = prompt_for(i);
  std::string joined;
  for (std::size_t k = 0; k < deltas_per_stream; ++k) {
    if (auto e = expect(2 + k, "chunk", inner); !e.empty()) return e;
    auto& d = events[2 + k].data["data"];
    if (!d.is_string()) return "chunk " + std::to_string(k) + " data is not a string";
    if (d.get<std::string>() != delta(prompt, k))
      return "chunk " + std::to_string(k) + " is " + d.get<std::string>() + ", not " +
             delta(prompt, k);
    joined += d.get<std::string>();
  }
  if (joined != answer(prompt)) return "chunks joined differ";
  if (auto e = expect(deltas_per_stream + 2, "node_finished", inner); !e.empty()) return e;
  if (auto e = expect(deltas_per_stream + 3, "node_finished", sub); !e.empty()) return e;
  auto& done = events.back();
  if (done.type != "run_finished") return "last event is " + done.type;
  if (done.data["status"] != "ok") return "run status " + done.data.dump();
  if (done.data["outputs"]["text"] != answer(prompt))
    return "outputs " + done.data["outputs"].dump();
  if (!done.data["trace_id"].is_string() || !done.data["run_id"].is_string())
    return "no trace_id or run_id";
  trace_hex = done.data["trace_id"].get<std::string>();
  run_id = done.data["run_id"].get<std::string>();
  return {};
}

}  // namespace

TEST_CASE(
    "serve sse: 2,000 concurrent streams of a sub-flow's streamed model call, in order, audited",
    "[serve][sse][concurrency]") {
  using clock = std::chrono::steady_clock;
  // Declared first, so it outlives the engine's connections to it.
  chat_server srv;
  srv.set_recording(false);
  srv.on_request([](const chat_request& r) {
    auto prompt = prompt_of(r);
    if (prompt.empty()) return chat_reply::error(400, "no prompt");
    chat_reply a;
    for (std::size_t i = 0; i < deltas_per_stream; ++i) a.deltas.push_back(delta(prompt, i));
    a.content = answer(prompt);
    return a;
  });
  serve_fixture f({}, {}, {}, {relay_flow(srv)});

  const auto t0 = clock::now();
  std::vector<std::unique_ptr<raw_conn>> conns;
  conns.reserve(streams);
  for (std::size_t i = 0; i < streams; ++i) {
    conns.push_back(std::make_unique<raw_conn>(f.port()));
    REQUIRE(conns.back()->ok());
  }
  for (std::size_t i = 0; i < streams; ++i) {
    auto body = R"({"stream": true, "inputs": {"prompt": ")" + prompt_for(i) +
                R"("}, "session_id": ")" + session_for(i) + R"(", "user_id": ")" + user_for(i) +
                R"("})";
    REQUIRE(conns[i]->send(json_post("/v1/flows/relay/runs", body)));
  }
  const auto t_sent = clock::now();

  std::vector<tracing::audit_expectation> expect;
  std::vector<std::string> failures;
  std::set<std::string> traces;
  for (std::size_t i = 0; i < streams; ++i) {
    auto r = conns[i]->read_response(60s);
    std::string trace_hex, run_id;
    auto problem = check_stream(r, i, trace_hex, run_id);
    if (!problem.empty()) {
      failures.push_back("stream " + std::to_string(i) + ": " + problem);
      continue;
    }
    auto trace = tracing::trace_id::from_hex(trace_hex);
    if (!trace) {
      failures.push_back("stream " + std::to_string(i) + ": bad trace id " + trace_hex);
      continue;
    }
    traces.insert(trace_hex);
    tracing::audit_expectation e;
    e.trace = *trace;
    e.run_id = run_id;
    e.session_id = session_for(i);
    e.user_id = user_for(i);
    e.expected_spans = spans_per_run;
    expect.push_back(e);
  }
  const auto t_read = clock::now();
  std::string first_failures;
  for (std::size_t k = 0; k < failures.size() && k < 20; ++k) first_failures += failures[k] + "\n";
  INFO(first_failures);
  CHECK(failures.empty());
  REQUIRE(expect.size() == streams);
  CHECK(traces.size() == streams);  // a trace of its own for every run
  CHECK(srv.request_count() == streams);

  // The spans arrive in batches after the runs end: wait for all of them
  // (or for the count to stop growing).
  auto ours = [&](const std::vector<tracing::span_record>& spans) {
    std::size_t n = 0;
    for (auto& s : spans)
      if (traces.count(s.trace.to_hex())) ++n;
    return n;
  };
  std::vector<tracing::span_record> spans;
  std::size_t last = 0;
  auto last_growth = clock::now();
  for (auto until = clock::now() + 20s; clock::now() < until;) {
    spans = f.store->snapshot();
    auto n = ours(spans);
    if (n >= streams * spans_per_run) break;
    if (n != last) {
      last = n;
      last_growth = clock::now();
    } else if (clock::now() - last_growth > 3s) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  const auto t_spans = clock::now();
  CHECK(ours(spans) == streams * spans_per_run);
  CHECK(f.eng->stats().total_dropped() == 0);

  // Every trace holds exactly these spans.
  std::map<std::string, std::multiset<std::string>> names;
  for (auto& s : spans) {
    auto hex = s.trace.to_hex();
    if (traces.count(hex)) names[hex].insert(s.name);
  }
  const std::multiset<std::string> six = {"relay", "sub", "inner", "ask", "chat m1", "HTTP POST"};
  std::size_t odd = 0;
  std::string first_odd;
  for (auto& [hex, n] : names)
    if (n != six && odd++ == 0) first_odd = hex;
  INFO("first trace with other spans: " << first_odd);
  CHECK(odd == 0);

  auto report = tracing::audit_traces(spans, expect);
  std::string problems;
  for (auto& p : report.problems) problems += p + "\n";
  INFO(problems);
  CHECK(report.ok());
  CHECK(report.traces == streams);
  CHECK(report.spans == streams * spans_per_run);
  CHECK(f.svc->runs_in_flight() == 0);

  auto ms = [](auto d) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  WARN("sse concurrency: " << streams << " streams x " << deltas_per_stream
                           << " chunks: connect+send " << ms(t_sent - t0) << " ms, read "
                           << ms(t_read - t_sent) << " ms, spans " << ms(t_spans - t_read)
                           << " ms, audit " << ms(clock::now() - t_spans)
                           << " ms; model server connections: " << srv.connections_accepted());
}
