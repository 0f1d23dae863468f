// Sub-flows and map: child runs nest under their composite node's span in
// the one trace of the top-level run, at any depth (flow -> map -> flow ->
// node here), each with its own run id, the top-level run id on every span,
// session and user everywhere; events of child runs reach the observer
// with their path; map keeps item order under random sleeps, never has more
// than max_concurrency items live, and handles both on_error modes.
#include <atomic>
#include <map>
#include <mutex>
#include <set>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/flow_dir.hpp"
#include "support/lambda_component.hpp"

using namespace weft;
using namespace weft::test;

namespace {

std::string attr_str(const tracing::span_record& s, std::string_view k) { return str_attr(s, k); }

std::int64_t attr_int(const tracing::span_record& s, std::string_view k) {
  auto v = s.find(k);
  return v && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v) : -1;
}

const tracing::span_record* by_id(const std::vector<tracing::span_record>& spans,
                                  const tracing::span_id& id) {
  for (auto& s : spans)
    if (s.id == id) return &s;
  return nullptr;
}

// Four levels: top (flow node `outer`) -> mid (map node `each`) -> leaf
// (flow node `inner`) -> cell (template node `t`).
void write_nested(const flow_dir& d) {
  d.write("cell.yaml", R"(
flow: cell
inputs: {x: {type: any}}
nodes:
  t: {type: template, params: {template: "<{{x}}>"}, inputs: {x: $inputs.x}}
outputs: {text: t.text}
)");
  d.write("leaf.yaml", R"(
flow: leaf
inputs: {item: {type: any}}
nodes:
  inner: {type: flow, params: {flow: cell}, inputs: {x: $inputs.item}}
outputs: {text: inner.text}
)");
  d.write("mid.yaml", R"(
flow: mid
inputs: {xs: {type: array}}
nodes:
  each: {type: map, params: {flow: ./leaf.yaml, output: text, max_concurrency: 2}, inputs: {items: $inputs.xs}}
outputs: {all: each.results}
)");
  d.write("top.yaml", R"(
flow: top
inputs: {xs: {type: array}}
nodes:
  outer: {type: flow, params: {flow: ./mid.yaml}, inputs: {xs: $inputs.xs}}
outputs: {all: outer.all}
)");
}

}  // namespace

TEST_CASE("sub-flows: four levels deep (flow -> map -> flow -> node), every parent checked",
          "[control][subflow]") {
  flow_dir d;
  write_nested(d);
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto loaded = eng.load_file((d.path() / "top.yaml").string());
  std::string errs;
  for (auto& e : loaded.errors) errs += e.to_string() + "\n";
  INFO(errs);
  REQUIRE(loaded.flow);
  CHECK_FALSE(loaded.flow.plan()->fixed_shape);
  std::mutex mu;
  std::vector<run_event> events;
  run_options ro;
  ro.session_id = "sess-4";
  ro.user_id = "user-4";
  ro.on_event = [&](const run_event& e) {
    std::lock_guard<std::mutex> lk(mu);
    events.push_back(e);
  };
  auto r = eng.run(loaded.flow, {{"xs", value::array({"a", "b", "c"})}}, ro).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("all") == value::array({"<a>", "<b>", "<c>"}));
  eng.shutdown();

  auto spans = spans_of(st->snapshot(), r.trace_id);
  // top run + outer + mid run + each + 3 x (leaf run + inner + cell run + t)
  REQUIRE(spans.size() == 4 + 3 * 4);
  std::set<std::string> run_ids;
  for (auto& s : spans) {
    INFO(s.name);
    CHECK(root_run_of(s) == r.run_id);
    // Only child runs' spans say it; a top-level span's run id is it.
    CHECK((attr_str(s, "weft.run.id") == r.run_id) ==
          (attr_str(s, "weft.root_run.id") == "<absent>"));
    CHECK(attr_str(s, "session.id") == "sess-4");
    CHECK(attr_str(s, "user.id") == "user-4");
    CHECK(s.status == tracing::status_code::ok);
    run_ids.insert(attr_str(s, "weft.run.id"));
    if (s.id.to_hex() == r.root_span_id) continue;
    const auto* parent = by_id(spans, s.parent);
    REQUIRE(parent);  // every parent inside the trace
    if (s.find("weft.parent_run.id")) {
      // A child run's root hangs under a node span of its parent run.
      CHECK(parent->find("weft.node.id"));
      CHECK(attr_str(*parent, "weft.run.id") == attr_str(s, "weft.parent_run.id"));
      CHECK(attr_str(s, "weft.run.id") != attr_str(*parent, "weft.run.id"));
    } else {
      CHECK(attr_str(*parent, "weft.run.id") == attr_str(s, "weft.run.id"));
    }
  }
  CHECK(run_ids.size() == 1 + 1 + 3 + 3);  // top, mid, 3 leaves, 3 cells
  // The chain of one cell node up to the root: t -> cell -> inner -> leaf
  // [item] -> each -> mid -> outer -> top.
  const tracing::span_record* t = nullptr;
  for (auto& s : spans)
    if (s.name == "t") t = &s;
  REQUIRE(t);
  std::vector<std::string> chain;
  for (auto* s = t; s; s = by_id(spans, s->parent)) chain.push_back(s->name);
  CHECK(chain ==
        std::vector<std::string>{"t", "cell", "inner", "leaf", "each", "mid", "outer", "top"});
  std::set<std::int64_t> indexes;
  for (auto& s : spans)
    if (s.name == "leaf") indexes.insert(attr_int(s, "weft.map.index"));
  CHECK(indexes == std::set<std::int64_t>{0, 1, 2});

  // Events carry their path from the top-level run.
  std::lock_guard<std::mutex> lk(mu);
  std::set<std::vector<std::string>> paths;
  for (auto& e : events)
    if (e.type == run_event::kind::node_finished) paths.insert(e.path);
  CHECK(paths.count({"outer"}));
  CHECK(paths.count({"outer", "each"}));
  CHECK(paths.count({"outer", "each", "1", "inner"}));
  CHECK(paths.count({"outer", "each", "2", "inner", "t"}));
  CHECK(events.back().type == run_event::kind::run_finished);
  int finished = 0;
  for (auto& e : events) finished += e.type == run_event::kind::run_finished;
  CHECK(finished == 1);  // child runs' own ends are not top-level events
}

TEST_CASE(
    "map: results stay in item order under random sleeps; live items never exceed max_concurrency",
    "[control][map]") {
  flow_dir d;
  engine eng(memory_options(std::make_shared<span_store>()));
  std::atomic<int> live{0}, peak{0};
  add_type(eng, "nap", [&](node_context& ctx, value_map in) {
    int now = ++live;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    auto v = in.at("value");
    auto ms = std::chrono::milliseconds(1 + (v.get<std::int64_t>() * 7919) % 13);
    auto c = ctx.shared_from_this();
    ctx.after(ms, [&, c, v]() mutable {
      --live;
      c->complete({{"value", v.get<std::int64_t>() * 10}});
    });
  });
  d.write("nap.yaml", R"(
flow: napper
inputs: {item: {type: integer}}
nodes:
  n: {type: nap, inputs: {value: $inputs.item}}
outputs: {v: n.value}
)");
  auto top = d.write("top.yaml", R"(
flow: fan
inputs: {xs: {type: array}}
nodes:
  each: {type: map, params: {flow: ./nap.yaml, max_concurrency: 4, output: v}, inputs: {items: $inputs.xs}}
outputs: {r: each.results, e: each.errors}
)");
  auto plan = eng.load_file(top).flow.plan();
  REQUIRE(plan);
  value xs = value::array();
  value want = value::array();
  for (int i = 0; i < 60; ++i) {
    xs.push_back(i);
    want.push_back(i * 10);
  }
  auto r = eng.run(plan, {{"xs", xs}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("r") == want);
  CHECK(r.outputs.at("e") == value::array());
  CHECK(peak.load() <= 4);
  CHECK(peak.load() >= 2);  // it does run items side by side
}

TEST_CASE(
    "map: on_error collect keeps going; on_error fail cancels the rest; items must be an array",
    "[control][map]") {
  flow_dir d;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  d.write("pick.yaml", R"(
flow: pick
inputs: {item: {type: integer}}
nodes:
  check: {type: lua, params: {script: "if inputs.n % 3 == 0 then error('bad ' .. inputs.n) end return inputs.n"}, inputs: {n: $inputs.item}}
outputs: {v: check.value}
)");
  auto collect = eng.load_file(d.write("c.yaml", R"(
flow: c
inputs: {xs: {type: any}}
nodes:
  each: {type: map, params: {flow: ./pick.yaml, on_error: collect, output: v}, inputs: {items: $inputs.xs}}
outputs: {r: each.results, e: each.errors}
)"))
                     .flow.plan();
  REQUIRE(collect);
  auto r = eng.run(collect, {{"xs", value::array({1, 2, 3, 4, 6})}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("r") == value::parse("[1, 2, null, 4, null]"));
  auto errors = r.outputs.at("e");
  REQUIRE(errors.size() == 2);
  CHECK(errors[0]["index"] == 2);
  CHECK(errors[0]["error"].get<std::string>().find("bad 3") != std::string::npos);
  CHECK(errors[1]["index"] == 4);

  auto fail = eng.load_file(d.write("f.yaml", R"(
flow: f
inputs: {xs: {type: any}}
nodes:
  each: {type: map, params: {flow: ./pick.yaml, max_concurrency: 1}, inputs: {items: $inputs.xs}}
outputs: {r: each.results}
)"))
                  .flow.plan();
  REQUIRE(fail);
  auto rf = eng.run(fail, {{"xs", value::array({1, 3, 4, 5, 7})}}).get();
  CHECK_FALSE(rf.ok);
  CHECK(rf.failed_node == "each");
  CHECK(rf.error.find("map: item 1 failed") != std::string::npos);
  CHECK(rf.error.find("bad 3") != std::string::npos);

  auto rt = eng.run(fail, {{"xs", "not a list"}}).get();
  CHECK_FALSE(rt.ok);
  CHECK(rt.error.find("map: input 'items' must be an array, got string") != std::string::npos);
  eng.shutdown();
  // With one item at a time and the second failing, items 2.. never ran.
  int item_runs = 0;
  for (auto& s : spans_of(st->snapshot(), rf.trace_id)) item_runs += s.name == "pick";
  CHECK(item_runs == 2);
}

TEST_CASE("child runs: a component recursing through run_child stops at 16 levels",
          "[control][subflow]") {
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  // The flow runs itself from inside: loading cannot see that (no flow:
  // param), so the runtime's bound is what stops it.
  auto self_plan = std::make_shared<std::shared_ptr<const flows::plan>>();
  add_type(eng, "recurse", [self_plan](node_context& ctx, value_map in) {
    child_run run;
    run.flow = *self_plan;
    run.inputs = {{"x", in.at("value").get<std::int64_t>() + 1}};
    ctx.run_child(std::move(run), [&ctx](child_result r) {
      if (r.ok) ctx.complete({{"value", r.outputs.at("y")}});
      else ctx.fail(r.error);
    });
  });
  *self_plan = must_load(eng, one_node_flow("recurse"));
  auto r = eng.run(*self_plan, {{"x", 1}}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("child runs nest deeper than 16 levels") != std::string::npos);
  eng.shutdown();
  // 16 run spans (levels 1..16), each with its node span.
  CHECK(spans_of(st->snapshot(), r.trace_id).size() == 32);
  self_plan->reset();  // the component holds the plan that holds it
}
