// 1,000 top-level runs in flight at once, each mapping 20 items over a
// sub-flow with a router and random sleeps inside: audited on the exported
// spans (tracing/audit.hpp: one trace per top-level run, every parent in
// it, no span of another run, session and user everywhere, every child run
// under a node of its own parent run), plus the expected depth and every
// item's root under its own run's map node.
#include <map>
#include <random>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/flow_dir.hpp"
#include "support/lambda_component.hpp"
#include "tracing/audit.hpp"

using namespace weft;
using namespace weft::test;

TEST_CASE("control flow: 1,000 concurrent runs x 20 mapped items with routers, audited",
          "[control][concurrency]") {
  flow_dir d;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  // 102,000 spans arrive faster than the memory sink's batches drain: a
  // queue that holds them all, so the audit sees every span (what a full
  // queue drops is counted, and checked to be zero below).
  opts.settings.exporter.max_queue_spans = 1 << 20;
  engine eng(std::move(opts));
  // A sleep of a random 0..4 ms, drawn per execution.
  add_type(eng, "jitter", [](node_context& ctx, value_map in) {
    thread_local std::mt19937 rng(std::random_device{}());
    auto c = ctx.shared_from_this();
    ctx.after(std::chrono::milliseconds(rng() % 5), [c, v = std::move(in["value"])]() mutable {
      c->complete({{"value", std::move(v)}});
    });
  });
  d.write("item.yaml", R"(
flow: item
inputs: {item: {type: integer}, who: {type: string}}
nodes:
  wait: {type: jitter, inputs: {value: $inputs.item}}
  route:
    type: router
    params: {routes: {even: "inputs.n % 2 == 0"}, default: odd}
    inputs: {value: $inputs.who, n: wait.value}
  e: {type: template, params: {template: "{{w}}:even"}, inputs: {w: route.even}}
  o: {type: template, params: {template: "{{w}}:odd"}, inputs: {w: route.odd}}
  j: {type: join, inputs: {values: [e.text, o.text]}}
outputs: {v: j.value}
)");
  auto plan = eng.load_file(d.write("top.yaml", R"(
flow: fan
inputs: {xs: {type: array}, who: {type: string}}
nodes:
  each: {type: map, params: {flow: ./item.yaml, max_concurrency: 20, output: v}, inputs: {items: $inputs.xs, who: $inputs.who}}
outputs: {r: each.results}
)"))
                  .flow.plan();
  REQUIRE(plan);
  value xs = value::array();
  for (int i = 0; i < 20; ++i) xs.push_back(i);

  constexpr int runs = 1000;
  std::vector<std::future<run_result>> futures;
  for (int i = 0; i < runs; ++i) {
    run_options o;
    o.session_id = "s" + std::to_string(i);
    o.user_id = "u" + std::to_string(i % 31);
    futures.push_back(eng.run(plan, {{"xs", xs}, {"who", "w" + std::to_string(i)}}, o));
  }
  INFO("runs in flight right after submitting: " << eng.runs_in_flight());
  std::vector<tracing::audit_expectation> expect;
  std::map<std::string, std::string> who_of_trace;
  for (int i = 0; i < runs; ++i) {
    auto r = futures[static_cast<std::size_t>(i)].get();
    REQUIRE(r.ok);
    auto w = "w" + std::to_string(i);
    auto got = r.outputs.at("r");
    REQUIRE(got.size() == 20);
    for (int k = 0; k < 20; ++k)
      REQUIRE(got[static_cast<std::size_t>(k)] == w + (k % 2 ? ":odd" : ":even"));
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(r.trace_id);
    e.run_id = r.run_id;
    e.session_id = "s" + std::to_string(i);
    e.user_id = "u" + std::to_string(i % 31);
    // fan + each + 20 x (item run + wait + route + one branch + j)
    e.expected_spans = 2 + 20 * 5;
    expect.push_back(e);
  }
  eng.shutdown();
  CHECK(eng.stats().total_dropped() == 0);
  auto spans = st->snapshot();
  auto report = tracing::audit_traces(spans, expect);
  std::string problems;
  for (auto& p : report.problems) problems += p + "\n";
  INFO(problems);
  CHECK(report.ok());
  CHECK(report.traces == runs);

  // Depth: every node span of an item run is at depth 3 under the root
  // (fan -> each -> item -> node), and every item run hangs under the map
  // node of its own top-level run.
  std::map<tracing::span_id, const tracing::span_record*> by_id;
  for (auto& s : spans) by_id[s.id] = &s;
  std::size_t items = 0;
  for (auto& s : spans) {
    if (s.name != "item") continue;
    ++items;
    auto p = by_id.find(s.parent);
    REQUIRE(p != by_id.end());
    CHECK(p->second->name == "each");
    CHECK(p->second->trace == s.trace);
    CHECK(str_attr(*p->second, "weft.run.id") == str_attr(s, "weft.parent_run.id"));
    CHECK(root_run_of(*p->second) == str_attr(s, "weft.root_run.id"));
  }
  CHECK(items == runs * 20);
  for (auto& s : spans) {
    if (s.name != "route") continue;
    int depth = 0;
    for (const tracing::span_record* x = &s; x->parent.valid(); ++depth) {
      auto p = by_id.find(x->parent);
      REQUIRE(p != by_id.end());
      x = p->second;
    }
    CHECK(depth == 3);
  }
}
