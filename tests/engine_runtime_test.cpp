// The node runtime behind the component SDK (include/weft/component.hpp):
// child spans at depth, spans left open, calls after the node ended, post()
// from a foreign thread, cancellation, error types, and the run's observer
// (run_options::on_event, `weft run --stream`).
#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/lambda_component.hpp"
#include "support/weft_command.hpp"
#include "tracing/traceparent.hpp"
#include "weft/component.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<span_store> store() { return std::make_shared<span_store>(); }

}  // namespace

TEST_CASE("runtime: child and grandchild spans nest under the node span, with every attribute kind",
          "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  std::string seen_tp_node, seen_tp_child;
  add_type(eng, "deep", [&](node_context& ctx, value_map in) {
    seen_tp_node = ctx.traceparent();
    auto call = ctx.start_span("call", span_kind::client);
    call.set("s", "text").set("i", 42).set("d", 0.5).set("b", true);
    call.set("arr", std::vector<std::string>{"stop", "length"});
    call.event("got.first.byte", {{"bytes", std::int64_t{12}}});
    auto inner = call.child("tool", span_kind::internal);
    seen_tp_child = inner.traceparent();
    inner.status(span_status::ok).end();
    call.status(span_status::error, "backend said no").end();
    ctx.complete({{"value", in["value"]}});
  });
  auto flow = must_load(eng, one_node_flow("deep"));
  run_options ro;
  ro.session_id = "sess";
  ro.user_id = "usr";
  auto r = eng.run(flow, {}, ro).get();
  REQUIRE(r.ok);
  auto spans = wait_spans(*st, r.trace_id, 4);
  REQUIRE(spans.size() == 4);
  auto* run = find_span(spans, "f");
  auto* node = find_span(spans, "n");
  auto* call = find_span(spans, "call");
  auto* tool = find_span(spans, "tool");
  REQUIRE((run && node && call && tool));
  CHECK(node->parent == run->id);
  CHECK(call->parent == node->id);
  CHECK(tool->parent == call->id);
  CHECK(call->kind == tracing::span_kind::client);
  for (auto* s : {call, tool}) {
    CHECK(str_attr(*s, "session.id") == "sess");
    CHECK(str_attr(*s, "user.id") == "usr");
    CHECK(str_attr(*s, "weft.run.id") == r.run_id);
    CHECK(str_attr(*s, "weft.flow.name") == "f");
    CHECK(s->end_unix_ns >= s->start_unix_ns);
  }
  CHECK(str_attr(*call, "s") == "text");
  CHECK(std::get<std::int64_t>(*call->find("i")) == 42);
  CHECK(std::get<double>(*call->find("d")) == 0.5);
  CHECK(std::get<bool>(*call->find("b")) == true);
  CHECK(std::get<std::vector<std::string>>(*call->find("arr")) ==
        std::vector<std::string>{"stop", "length"});
  REQUIRE(call->events.size() == 1);
  CHECK(call->events[0].name == "got.first.byte");
  CHECK(call->status == tracing::status_code::error);
  CHECK(call->status_message == "backend said no");
  CHECK(tool->status == tracing::status_code::ok);
  // The traceparents the component saw name the exported spans.
  CHECK(seen_tp_node == tracing::format_traceparent(node->trace, node->id, true));
  CHECK(seen_tp_child == tracing::format_traceparent(tool->trace, tool->id, true));
}

TEST_CASE("runtime: a span the component never ended ends with the node, as an error",
          "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  add_type(eng, "leaky", [](node_context& ctx, value_map in) {
    ctx.start_span("forgotten").set("k", "v");
    ctx.complete({{"value", in["value"]}});
  });
  auto r = eng.run(must_load(eng, one_node_flow("leaky")), {}).get();
  REQUIRE(r.ok);
  auto spans = wait_spans(*st, r.trace_id, 3);
  auto* s = find_span(spans, "forgotten");
  REQUIRE(s);
  CHECK(s->status == tracing::status_code::error);
  CHECK(s->status_message == "unfinished");
  CHECK(s->end_unix_ns > 0);
}

TEST_CASE("runtime: every call after the node ended is a no-op, late timers and posts included",
          "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  std::shared_ptr<node_context> kept;
  span kept_span;
  std::atomic<int> late_runs{0};
  add_type(eng, "late", [&](node_context& ctx, value_map in) {
    kept = ctx.shared_from_this();
    kept_span = ctx.start_span("kept");
    ctx.after(30ms, [&late_runs] { ++late_runs; });  // due after the node ended
    ctx.complete({{"value", in["value"]}});
    // All of these come too late.
    ctx.complete({{"value", "second"}});
    ctx.fail("third");
    ctx.set_attribute("late", "yes");
  });
  auto r = eng.run(must_load(eng, one_node_flow("late")), {{"x", "first"}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("y") == "first");
  // From a foreign thread, after the end: dropped, and nothing breaks.
  REQUIRE(kept);
  CHECK(kept->ended());
  std::thread([&] { kept->post([&late_runs] { ++late_runs; }); }).join();
  kept_span.set("after", "end").event("late").status(span_status::ok);
  kept_span.end();
  CHECK_FALSE(kept_span.recording());
  CHECK(kept_span.child("no").traceparent().empty());
  CHECK(kept->start_span("no").traceparent().empty());
  std::this_thread::sleep_for(100ms);
  CHECK(late_runs.load() == 0);
  auto spans = wait_spans(*st, r.trace_id, 3);
  auto* node = find_span(spans, "n");
  auto* ks = find_span(spans, "kept");
  REQUIRE((node && ks));
  CHECK(node->find("late") == nullptr);
  CHECK(ks->find("after") == nullptr);
  CHECK(ks->status_message == "unfinished");
  kept.reset();
}

TEST_CASE("runtime: post from a foreign thread runs on the node and may complete it", "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  add_type(eng, "threaded", [](node_context& ctx, value_map in) {
    auto self = ctx.shared_from_this();
    std::thread([self, v = in["value"]] {
      std::this_thread::sleep_for(20ms);
      self->post([self, v] {
        self->start_span("from.post").end();
        self->complete({{"value", v}});
      });
    }).detach();
  });
  auto flow = must_load(eng, one_node_flow("threaded"));
  std::vector<std::future<run_result>> runs;
  for (int i = 0; i < 200; ++i) runs.push_back(eng.run(flow, {{"x", i}}));
  for (int i = 0; i < 200; ++i) {
    auto r = runs[static_cast<std::size_t>(i)].get();
    REQUIRE(r.ok);
    CHECK(r.outputs.at("y") == i);
  }
}

TEST_CASE("runtime: cancellation runs on_cancel, then ends the node and its spans with an error",
          "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  std::atomic<int> cancelled{0};
  add_type(eng, "stuck", [&](node_context& ctx, value_map) {
    auto s = ctx.start_span("waiting");
    ctx.on_cancel([&cancelled, &ctx, s]() mutable {
      ++cancelled;
      s.event("cancelled");
      ctx.complete({{"value", "too late"}});  // ignored: the node is cancelled
    });
  });
  auto r = eng.run(must_load(eng, one_node_flow("stuck", 50)), {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("timeout") != std::string::npos);
  CHECK(cancelled.load() == 1);
  auto spans = wait_spans(*st, r.trace_id, 3);
  auto* node = find_span(spans, "n");
  auto* w = find_span(spans, "waiting");
  REQUIRE((node && w));
  CHECK(node->status == tracing::status_code::error);
  CHECK(str_attr(*node, "error.type") == "timeout");
  CHECK(w->status_message == "unfinished");
  REQUIRE(w->events.size() == 1);
  CHECK(w->events[0].name == "cancelled");
}

TEST_CASE("runtime: fail carries an error type, and an exception in a callback fails the node",
          "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  add_type(eng, "typed",
           [](node_context& ctx, value_map) { ctx.fail("the backend said 503", "http.503"); });
  add_type(eng, "throws_later", [](node_context& ctx, value_map) {
    ctx.after(1ms, [] { throw std::runtime_error("boom in a timer"); });
  });
  auto r = eng.run(must_load(eng, one_node_flow("typed")), {}).get();
  CHECK_FALSE(r.ok);
  auto spans = wait_spans(*st, r.trace_id, 2);
  auto* node = find_span(spans, "n");
  REQUIRE(node);
  CHECK(str_attr(*node, "error.type") == "http.503");
  CHECK(node->status_message == "the backend said 503");

  r = eng.run(must_load(eng, one_node_flow("throws_later")), {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("boom in a timer") != std::string::npos);
  spans = wait_spans(*st, r.trace_id, 2);
  node = find_span(spans, "n");
  REQUIRE(node);
  CHECK(str_attr(*node, "error.type") == "exception");
}

TEST_CASE("runtime: the observer gets every event of a run in order; without one nothing is sent",
          "[runtime]") {
  auto st = store();
  engine eng(memory_options(st));
  std::atomic<int> observed_true{0}, observed_false{0};
  add_type(eng, "chatty", [&](node_context& ctx, value_map in) {
    (ctx.observed() ? observed_true : observed_false)++;
    auto self = ctx.shared_from_this();
    // Chunks now, from a timer and from a post: one order, the emit order.
    for (int i = 0; i < 50; ++i) ctx.emit(i);
    ctx.after(5ms, [self, in]() mutable {
      for (int i = 50; i < 100; ++i) self->emit(i);
      self->complete({{"value", in["value"]}});
    });
  });
  auto flow = must_load(eng, R"(
flow: chat
inputs: {x: {type: any, default: 1}}
nodes:
  a: {type: chatty, inputs: {value: $inputs.x}}
  b: {type: chatty, inputs: {value: a.value}}
outputs: {y: b.value}
)");
  std::mutex mu;
  std::vector<run_event> events;
  run_options ro;
  ro.on_event = [&](const run_event& e) {
    std::lock_guard<std::mutex> lk(mu);
    events.push_back(e);
  };
  auto r = eng.run(flow, {{"x", "v"}}, ro).get();
  REQUIRE(r.ok);
  CHECK(observed_true.load() == 2);
  std::lock_guard<std::mutex> lk(mu);
  REQUIRE(events.size() == 2 + 200 + 2 + 1);
  // a: started, 100 chunks, finished; then b the same; then the run.
  std::size_t k = 0;
  for (auto node : {"a", "b"}) {
    CHECK(events[k].type == run_event::kind::node_started);
    CHECK(events[k].node == node);
    CHECK(events[k].span_id.size() == 16);
    ++k;
    for (int i = 0; i < 100; ++i, ++k) {
      CHECK(events[k].type == run_event::kind::chunk);
      CHECK(events[k].data == i);
    }
    CHECK(events[k].type == run_event::kind::node_finished);
    CHECK(events[k].status == "ok");
    ++k;
  }
  CHECK(events[k].type == run_event::kind::run_finished);
  CHECK(events[k].outputs.at("y") == "v");
  CHECK(events[k].to_json()["event"] == "run_finished");
  // The span id in node_started is the exported node span's.
  auto spans = wait_spans(*st, r.trace_id, 3);
  auto* a = find_span(spans, "a");
  REQUIRE(a);
  CHECK(a->id.to_hex() == events[0].span_id);

  // No observer: the context says so, and the run works the same.
  auto r2 = eng.run(flow, {{"x", "w"}}).get();
  REQUIRE(r2.ok);
  CHECK(observed_false.load() == 2);
}

TEST_CASE("runtime: a failing node's events end with node_finished error, then run_finished",
          "[runtime]") {
  engine eng(memory_options(store()));
  add_type(eng, "bad", [](node_context& ctx, value_map) { ctx.fail("nope", "test"); });
  std::vector<run_event> events;
  run_options ro;
  ro.on_event = [&](const run_event& e) { events.push_back(e); };
  auto r = eng.run(must_load(eng, one_node_flow("bad")), {}, ro).get();
  CHECK_FALSE(r.ok);
  REQUIRE(events.size() == 3);
  CHECK(events[1].type == run_event::kind::node_finished);
  CHECK(events[1].status == "error");
  CHECK(events[1].error == "nope");
  CHECK(events[2].type == run_event::kind::run_finished);
  CHECK(events[2].status == "error");
  CHECK(events[2].to_json()["error"].get<std::string>().find("nope") != std::string::npos);
}

TEST_CASE("runtime: 1,000 concurrent runs with child spans never mix their parents",
          "[runtime][concurrency]") {
  auto st = store();
  engine eng(memory_options(st));
  add_type(eng, "nested", [](node_context& ctx, value_map in) {
    auto outer = ctx.start_span("outer");
    auto self = ctx.shared_from_this();
    ctx.after(std::chrono::milliseconds(in["value"].get<int>() % 7), [self, outer, in]() mutable {
      outer.child("inner").end();
      outer.end();
      self->complete({{"value", in["value"]}});
    });
  });
  auto flow = must_load(eng, R"(
flow: many
inputs: {x: {type: integer}}
nodes:
  p: {type: nested, inputs: {value: $inputs.x}}
  q: {type: nested, inputs: {value: $inputs.x}}
outputs: {p: p.value, q: q.value}
)");
  constexpr int n = 1000;
  std::vector<std::future<run_result>> futs;
  for (int i = 0; i < n; ++i) {
    run_options ro;
    ro.session_id = "s" + std::to_string(i);
    futs.push_back(eng.run(flow, {{"x", i}}, ro));
  }
  std::vector<run_result> results;
  for (auto& f : futs) results.push_back(f.get());
  eng.shutdown();
  auto all = st->snapshot();
  std::size_t checked = 0;
  for (int i = 0; i < n; ++i) {
    auto& r = results[static_cast<std::size_t>(i)];
    REQUIRE(r.ok);
    auto spans = spans_of(all, r.trace_id);
    REQUIRE(spans.size() == 1 + 2 * 3);
    std::map<tracing::span_id, const tracing::span_record*> by_id;
    for (auto& s : spans) by_id[s.id] = &s;
    for (auto& s : spans) {
      CHECK(str_attr(s, "session.id") == "s" + std::to_string(i));
      if (s.name == "many") continue;
      REQUIRE(by_id.count(s.parent));
      auto* parent = by_id[s.parent];
      if (s.name == "outer") CHECK((parent->name == "p" || parent->name == "q"));
      if (s.name == "inner") CHECK(parent->name == "outer");
      ++checked;
    }
  }
  CHECK(checked == n * 6);
}

TEST_CASE("weft run --stream prints one JSON event per line, the outputs last", "[runtime][cli]") {
  auto dir = scratch_dir();
  auto flow = dir / "stream.yaml";
  std::ofstream(flow) << R"(
flow: stream
inputs: {name: {type: string}}
nodes:
  a: {type: template, params: {template: "Hi {{name}}"}, inputs: {name: $inputs.name}}
  b: {type: passthrough, inputs: {value: a.text}}
outputs: {text: b.value}
)";
  auto r = run_weft("run '" + flow.string() + "' -i name=Ada --stream --trace-file t.jsonl");
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  std::vector<value> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(value::parse(line));
  REQUIRE(lines.size() == 5);
  CHECK(lines[0]["event"] == "node_started");
  CHECK(lines[0]["node"] == "a");
  CHECK(lines[1]["event"] == "node_finished");
  CHECK(lines[2]["node"] == "b");
  CHECK(lines[4]["event"] == "run_finished");
  CHECK(lines[4]["outputs"]["text"] == "Hi Ada");
  // A failing run: exit code 1, the last line says why.
  auto bad = dir / "bad.yaml";
  std::ofstream(bad)
      << "flow: bad\nnodes:\n  f: {type: fail, params: {message: broken}}\noutputs: {}\n";
  auto rb = run_weft("run '" + bad.string() + "' --stream --trace-file t.jsonl");
  CHECK(rb.code == 1);
  auto last = rb.out.substr(rb.out.rfind('{', rb.out.size() - 2));
  CHECK(value::parse(last)["status"] == "error");
}
