// Failing nodes, exceptions, node and run timeouts, bad inputs.
#include "support/engine_fixture.hpp"

using namespace weft;
using weft::test::find_span;
using weft::test::must_load;
using weft::test::spans_of;

namespace {

struct fixture {
  std::shared_ptr<test::span_store> store = std::make_shared<test::span_store>();
  engine eng{test::memory_options(store)};

  std::vector<tracing::span_record> spans_after(const run_result& r) {
    eng.shutdown();
    return spans_of(store->snapshot(), r.trace_id);
  }
};

}  // namespace

TEST_CASE("a failing node fails the run and its span records the error", "[engine][errors]") {
  fixture f;
  auto flow = must_load(f.eng, R"(
flow: f
nodes:
  a: {type: const, params: {value: 1}}
  boom: {type: fail, params: {message: "it broke"}, inputs: {value: a.value}}
  after: {type: passthrough, inputs: {value: boom.value}}
outputs: {v: after.value}
)");
  auto r = f.eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "boom");
  CHECK(r.error == "node 'boom' failed: it broke");
  CHECK_FALSE(r.timed_out);
  auto spans = f.spans_after(r);
  auto boom = find_span(spans, "boom");
  REQUIRE(boom);
  CHECK(boom->status == tracing::status_code::error);
  CHECK(boom->status_message == "it broke");
  auto root = find_span(spans, "f");
  REQUIRE(root);
  CHECK(root->status == tracing::status_code::error);
  CHECK(root->status_message == r.error);
  CHECK(find_span(spans, "after") == nullptr);  // never started
}

TEST_CASE("an exception in a component becomes the node's error", "[engine][errors]") {
  fixture f;
  engine_internals::components(f.eng).add(
      {"thrower",
       "throws",
       {},
       false,
       {"value"},
       {},
       false,
       [](const flows::node_spec&, const flows::component_services&,
          flows::diagnostics&) -> std::shared_ptr<const flows::component> {
         struct thrower final : flows::component {
           void start(flows::node_context&, flows::value_map) const override {
             throw std::runtime_error("bad state");
           }
         };
         return std::make_shared<thrower>();
       }});
  auto bad = must_load(f.eng, "flow: t\nnodes: {x: {type: thrower}}\noutputs: {v: x.value}\n");
  auto good = must_load(
      f.eng, "flow: g\nnodes: {x: {type: const, params: {value: 7}}}\noutputs: {v: x.value}\n");
  auto r = f.eng.run(bad, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error == "node 'x' failed: exception: bad state");
  // Other runs are unaffected.
  auto g = f.eng.run(good, {}).get();
  REQUIRE(g.ok);
  CHECK(g.outputs.at("v") == 7);
  auto spans = f.spans_after(r);
  auto x = find_span(spans, "x");
  REQUIRE(x);
  CHECK(x->status == tracing::status_code::error);
  CHECK(x->status_message == "exception: bad state");
}

TEST_CASE("a node over its timeout_ms is stopped with status timeout", "[engine][errors]") {
  fixture f;
  auto flow = must_load(f.eng, R"(
flow: slow
nodes:
  z: {type: sleep, params: {ms: 5000}, timeout_ms: 50}
outputs: {v: z.value}
)");
  auto r = f.eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "z");
  CHECK(r.error == "node 'z' failed: timeout: the node exceeded its timeout_ms of 50 ms");
  CHECK(r.duration_ms < 1000);
  auto spans = f.spans_after(r);
  auto z = find_span(spans, "z");
  REQUIRE(z);
  CHECK(z->status == tracing::status_code::error);
  CHECK(z->status_message == "timeout: the node exceeded its timeout_ms of 50 ms");
  CHECK(test::str_attr(*z, "error.type") == "timeout");
}

TEST_CASE("the run-level timeout cancels every actor of the run", "[engine][errors]") {
  fixture f;
  auto flow = must_load(f.eng, R"(
flow: slowrun
timeout_ms: 100
nodes:
  a: {type: sleep, params: {ms: 5000}}
  b: {type: sleep, params: {ms: 5000}}
  c: {type: passthrough, inputs: {value: a.value}}
outputs: {v: c.value}
)");
  auto r = f.eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.timed_out);
  CHECK(r.duration_ms < 1000);
  SECTION("a per-run timeout overrides the flow's") {
    run_options o;
    o.timeout_ms = 30;
    auto r2 = f.eng.run(flow, {}, o).get();
    CHECK(r2.timed_out);
    CHECK(r2.error == "timeout: the run exceeded 30 ms");
  }
  auto spans = f.spans_after(r);
  for (auto name : {"a", "b"}) {
    auto s = find_span(spans, name);
    REQUIRE(s);
    CHECK(s->status == tracing::status_code::error);
    CHECK(s->status_message == "cancelled: run timeout");
  }
  auto root = find_span(spans, "slowrun");
  REQUIRE(root);
  CHECK(root->status_message == "timeout: the run exceeded 100 ms");
}

TEST_CASE("bad run inputs are rejected before the run starts", "[engine][errors]") {
  fixture f;
  auto flow = must_load(f.eng, R"(
flow: typed
inputs:
  n: {type: integer}
  s: {type: string, default: "d"}
nodes:
  p: {type: passthrough, inputs: {value: $inputs.n}}
outputs: {v: p.value}
)");
  CHECK(f.eng.run(flow, {{"n", "seven"}}).get().error == "input 'n': expected integer, got string");
  CHECK(f.eng.run(flow, {}).get().error == "missing required input 'n' (integer)");
  CHECK(f.eng.run(flow, {{"n", 1}, {"zz", 1}}).get().error ==
        "unknown input 'zz'; flow 'typed' declares: n, s");
  auto ok = f.eng.run(flow, {{"n", 3}}).get();
  CHECK(ok.ok);
}

TEST_CASE("shutdown cancels runs that outlive its deadline and flushes their spans",
          "[engine][errors]") {
  fixture f;
  auto flow = must_load(
      f.eng, "flow: long\nnodes: {z: {type: sleep, params: {ms: 60000}}}\noutputs: {v: z.value}\n");
  auto fut = f.eng.run(flow, {});
  CHECK(f.eng.shutdown(std::chrono::milliseconds(50)));
  auto r = fut.get();
  CHECK_FALSE(r.ok);
  CHECK(r.error == "cancelled: engine shutting down");
  auto spans = spans_of(f.store->snapshot(), r.trace_id);
  CHECK(spans.size() == 2);
  CHECK(f.eng.run(flow, {}).get().error == "the engine is shut down");
}
