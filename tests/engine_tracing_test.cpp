// The spans of a run: names, parents, attributes, traceparent, sampling and
// content tracing.
#include "support/engine_fixture.hpp"
#include "tracing/traceparent.hpp"

using namespace weft;
using weft::test::find_span;
using weft::test::must_load;
using weft::test::spans_of;
using weft::test::str_attr;

namespace {}  // namespace

TEST_CASE("a run is one trace: a root span and node spans under it", "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto flow = must_load(eng, test::two_node_flow);
  run_options o;
  o.session_id = "sess-1";
  o.user_id = "user-1";
  auto r = eng.run(flow, {{"x", 5}}, o).get();
  REQUIRE(r.ok);
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 3);
  auto root = find_span(spans, "pair");
  REQUIRE(root);
  CHECK_FALSE(root->parent.valid());
  CHECK(root->id.to_hex() == r.root_span_id);
  CHECK(root->status == tracing::status_code::ok);
  CHECK(str_attr(*root, "weft.flow.name") == "pair");
  CHECK(str_attr(*root, "weft.run.id") == r.run_id);
  for (auto name : {"first", "second"}) {
    auto s = find_span(spans, name);
    REQUIRE(s);
    CHECK(s->parent == root->id);
    CHECK(str_attr(*s, "weft.node.id") == name);
    CHECK(str_attr(*s, "weft.node.type") == "passthrough");
    CHECK(s->start_unix_ns >= root->start_unix_ns);
    CHECK(s->end_unix_ns <= root->end_unix_ns);
  }
  for (auto& s : spans) {
    CHECK(str_attr(s, "session.id") == "sess-1");
    CHECK(str_attr(s, "user.id") == "user-1");
    CHECK(str_attr(s, "weft.run.id") == r.run_id);
    CHECK(s.find("weft.inputs") == nullptr);  // content tracing is off by default
  }
}

TEST_CASE("without session and user ids the attributes are absent", "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto r = eng.run(must_load(eng, test::two_node_flow), {{"x", 1}}).get();
  eng.shutdown();
  for (auto& s : spans_of(store->snapshot(), r.trace_id)) {
    CHECK(s.find("session.id") == nullptr);
    CHECK(s.find("user.id") == nullptr);
  }
}

TEST_CASE("an incoming traceparent makes the root a child of the remote span",
          "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto flow = must_load(eng, test::two_node_flow);
  run_options o;
  o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto r = eng.run(flow, {{"x", 1}}, o).get();
  REQUIRE(r.ok);
  CHECK(r.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(r.warning.empty());

  run_options bad;
  bad.traceparent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
  auto r2 = eng.run(flow, {{"x", 1}}, bad).get();
  REQUIRE(r2.ok);
  CHECK(r2.trace_id != "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK_THAT(r2.warning, Catch::Contains("ignoring invalid traceparent"));

  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 3);
  auto root = find_span(spans, "pair");
  REQUIRE(root);
  CHECK(root->parent.to_hex() == "00f067aa0ba902b7");
  CHECK(find_span(spans, "first")->parent == root->id);
  auto fresh = spans_of(store->snapshot(), r2.trace_id);
  REQUIRE(fresh.size() == 3);
  CHECK_FALSE(find_span(fresh, "pair")->parent.valid());
}

TEST_CASE("sampling: ratio 0 records nothing, a sampled parent still wins", "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  auto opts = test::memory_options(store);
  opts.settings.tracing.sample = 0.0;
  engine eng(std::move(opts));
  auto flow = must_load(eng, test::two_node_flow);
  auto r = eng.run(flow, {{"x", 1}}).get();
  REQUIRE(r.ok);
  CHECK_FALSE(r.sampled);
  CHECK_FALSE(r.trace_id.empty());  // the context exists, spans do not
  run_options o;
  o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto sampled = eng.run(flow, {{"x", 1}}, o).get();
  CHECK(sampled.sampled);
  o.traceparent = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
  auto unsampled = eng.run(flow, {{"x", 1}}, o).get();
  CHECK_FALSE(unsampled.sampled);
  eng.shutdown();
  CHECK(spans_of(store->snapshot(), r.trace_id).empty());
  CHECK(spans_of(store->snapshot(), sampled.trace_id).size() == 3);
  CHECK(spans_of(store->snapshot(), unsampled.trace_id).empty());
}

TEST_CASE("tracing off builds no span at all, even for a sampled traceparent",
          "[engine][tracing]") {
  // The exporter counts every span a run hands it: with tracing on it sees
  // them all; off, runs are unsampled and it must see none.
  auto received = [](bool tracing_on) {
    auto store = std::make_shared<test::span_store>();
    auto opts = test::memory_options(store);
    opts.tracing = tracing_on;
    engine eng(std::move(opts));
    auto flow = must_load(eng, test::two_node_flow);
    run_options o;
    o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (int i = 0; i < 50; ++i) {
      auto r = eng.run(flow, {{"x", i}}, i % 2 ? o : run_options{}).get();
      REQUIRE(r.ok);
      CHECK(r.sampled == tracing_on);
      CHECK_FALSE(r.trace_id.empty());
    }
    eng.shutdown();
    return eng.stats().spans_received;
  };
  CHECK(received(true) == 50 * 3);
  CHECK(received(false) == 0);
}

TEST_CASE("content tracing records inputs and outputs, with secrets masked", "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  auto opts = test::memory_options(store);
  opts.settings.tracing.content = true;
  engine eng(std::move(opts));
  auto flow = must_load(eng, test::two_node_flow);
  auto r = eng.run(flow, {{"x", {{"query", "hi"}, {"api_key", "sk-very-secret"}}}}).get();
  REQUIRE(r.ok);
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  auto root = find_span(spans, "pair");
  REQUIRE(root);
  auto in = str_attr(*root, "weft.inputs");
  CHECK_THAT(in, Catch::Contains("\"query\":\"hi\""));
  CHECK_THAT(in, !Catch::Contains("sk-very-secret"));
  CHECK_THAT(str_attr(*root, "weft.outputs"), Catch::Contains("\"y\""));
  for (auto& s : spans) {
    for (auto& a : s.attributes)
      if (auto p = std::get_if<std::string>(&a.value))
        CHECK_THAT(*p, !Catch::Contains("sk-very-secret"));
  }
  CHECK_THAT(str_attr(*find_span(spans, "first"), "weft.outputs"), Catch::Contains("query"));
}

TEST_CASE("run ids and span ids are unique across runs", "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto flow = must_load(eng, test::two_node_flow);
  std::set<std::string> run_ids, traces;
  for (int i = 0; i < 200; ++i) {
    auto r = eng.run(flow, {{"x", i}}).get();
    run_ids.insert(r.run_id);
    traces.insert(r.trace_id);
  }
  eng.shutdown();
  CHECK(run_ids.size() == 200);
  CHECK(traces.size() == 200);
  std::set<std::uint64_t> ids;
  for (auto& s : store->snapshot()) ids.insert(s.id.value);
  CHECK(ids.size() == 600);
}

TEST_CASE("a tracestate with a traceparent is on every span of the run, normalised",
          "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto flow = must_load(eng, test::two_node_flow);
  run_options o;
  o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  o.tracestate = " rojo=00f067aa0ba902b7 ,, \tcongo=t61rcWkgMzE\t";
  auto r = eng.run(flow, {{"x", 1}}, o).get();
  REQUIRE(r.ok);
  CHECK(r.warning.empty());
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 3);
  for (auto& s : spans) {
    INFO(s.name);
    CHECK(s.trace_state == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  }
}

TEST_CASE("an invalid tracestate is dropped with a warning; the traceparent still counts",
          "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto flow = must_load(eng, test::two_node_flow);
  run_options o;
  o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  o.tracestate = "rojo=1,Congo=2";
  auto r = eng.run(flow, {{"x", 1}}, o).get();
  REQUIRE(r.ok);
  CHECK(r.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK_THAT(r.warning, Catch::Contains("ignoring invalid tracestate") &&
                            Catch::Contains("list member 2") && !Catch::Contains("traceparent ("));

  // Too long is not invalid: whole members go, and the caller hears of it.
  o.traceparent = "00-5bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const std::string keep = "a=" + std::string(200, 'v');
  o.tracestate = keep + ",b=" + std::string(200, 'w') + ",c=" + std::string(200, 'x');
  auto cut = eng.run(flow, {{"x", 1}}, o).get();
  REQUIRE(cut.ok);
  CHECK_THAT(cut.warning, Catch::Contains("tracestate cut to 512") && Catch::Contains("dropped 1"));
  eng.shutdown();

  auto spans = spans_of(store->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 3);
  auto root = find_span(spans, "pair");
  REQUIRE(root);
  CHECK(root->parent.to_hex() == "00f067aa0ba902b7");
  for (auto& s : spans) CHECK(s.trace_state.empty());
  auto cut_spans = spans_of(store->snapshot(), cut.trace_id);
  REQUIRE(cut_spans.size() == 3);
  for (auto& s : cut_spans) CHECK(s.trace_state == keep + ",b=" + std::string(200, 'w'));
}

TEST_CASE("a tracestate without a valid traceparent is ignored", "[engine][tracing]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(test::memory_options(store));
  auto flow = must_load(eng, test::two_node_flow);
  run_options o;
  o.tracestate = "rojo=00f067aa0ba902b7";
  auto alone = eng.run(flow, {{"x", 1}}, o).get();
  REQUIRE(alone.ok);
  CHECK(alone.warning.empty());
  // With a bad traceparent the run starts its own trace, which the caller's
  // vendor data does not describe; only the traceparent is worth a warning.
  o.traceparent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01";
  o.tracestate = "Not=valid";
  auto bad_parent = eng.run(flow, {{"x", 1}}, o).get();
  REQUIRE(bad_parent.ok);
  CHECK_THAT(bad_parent.warning,
             Catch::Contains("ignoring invalid traceparent") && !Catch::Contains("tracestate"));
  eng.shutdown();
  for (auto* r : {&alone, &bad_parent}) {
    auto spans = spans_of(store->snapshot(), r->trace_id);
    REQUIRE(spans.size() == 3);
    for (auto& s : spans) CHECK(s.trace_state.empty());
  }
}
