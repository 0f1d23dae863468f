// router and join, and the skip rules of the run actor, one test per rule:
// an untaken route is skipped; a required single-source input from a
// skipped source skips its node (and so on downstream); a variadic input
// collects what was produced and is skipped only when nothing was and it is
// required; an optional input from a skipped source is absent; a skipped
// node has no actor and no span and is listed in weft.run.skipped; a flow
// output from a skipped source is null.
#include <mutex>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/lambda_component.hpp"

using namespace weft;
using namespace weft::test;

namespace {

const char* const triage = R"(
flow: triage
inputs: {ticket: {type: string}, score: {type: number}}
nodes:
  route:
    type: router
    params:
      routes:
        urgent: "inputs.score > 0.8"
        normal: "inputs.score > 0.2"
      default: low
    inputs: {value: $inputs.ticket, score: $inputs.score}
  escalate: {type: template, params: {template: "URGENT {{t}}"}, inputs: {t: route.urgent}}
  page: {type: template, params: {template: "paged: {{t}}"}, inputs: {t: escalate.text}}
  answer: {type: passthrough, inputs: {value: route.normal}}
  reply: {type: join, inputs: {values: [escalate.text, answer.value]}}
outputs: {reply: reply.value, all: reply.values, paged: page.text, low: route.low}
)";

std::vector<std::string> skipped_of(const tracing::span_record& run) {
  auto v = run.find("weft.run.skipped");
  if (!v) return {};
  if (auto p = std::get_if<std::vector<std::string>>(v)) return *p;
  return {"<not a string array>"};
}

}  // namespace

TEST_CASE("router: the first true route in file order carries value; the others are skipped",
          "[control][router]") {
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, triage);
  std::mutex mu;
  std::vector<run_event> events;
  run_options ro;
  ro.on_event = [&](const run_event& e) {
    std::lock_guard<std::mutex> lk(mu);
    events.push_back(e);
  };
  auto r = eng.run(flow, {{"ticket", "t1"}, {"score", 0.9}}, ro).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("reply") == "URGENT t1");
  CHECK(r.outputs.at("paged") == "paged: URGENT t1");
  CHECK(r.outputs.at("all") == value::array({"URGENT t1"}));  // only what was produced
  CHECK(r.outputs.at("low").is_null());                       // untaken: null

  // 0.5 matches only `normal`; `urgent` is skipped, and `page` behind it.
  auto r2 = eng.run(flow, {{"ticket", "t2"}, {"score", 0.5}}).get();
  REQUIRE(r2.ok);
  CHECK(r2.outputs.at("reply") == "t2");
  CHECK(r2.outputs.at("paged").is_null());
  // No route: the default.
  auto r3 = eng.run(flow, {{"ticket", "t3"}, {"score", 0.1}}).get();
  REQUIRE(r3.ok);
  CHECK(r3.outputs.at("low") == "t3");
  CHECK(r3.outputs.at("reply").is_null());  // join with nothing produced: skipped
  eng.shutdown();

  auto spans = spans_of(st->snapshot(), r2.trace_id);
  // run + route + answer + reply; escalate and page have no span.
  CHECK(spans.size() == 4);
  CHECK_FALSE(find_span(spans, "escalate"));
  CHECK_FALSE(find_span(spans, "page"));
  auto* run = find_span(spans, "triage");
  REQUIRE(run);
  CHECK(skipped_of(*run) == std::vector<std::string>{"escalate", "page"});
  auto* route = find_span(spans, "route");
  REQUIRE(route);
  CHECK(str_attr(*route, "weft.router.route") == "normal");
  auto s3 = spans_of(st->snapshot(), r3.trace_id);
  REQUIRE(find_span(s3, "triage"));
  CHECK(skipped_of(*find_span(s3, "triage")) ==
        std::vector<std::string>{"escalate", "page", "answer", "reply"});  // file order
  // Events: the skipped node gets node_finished "skipped" (r1: answer).
  std::lock_guard<std::mutex> lk(mu);
  int skipped = 0;
  for (auto& e : events)
    if (e.type == run_event::kind::node_finished && e.status == "skipped") {
      ++skipped;
      CHECK(e.node == "answer");
      CHECK(e.path == std::vector<std::string>{"answer"});
    }
  CHECK(skipped == 1);
}

TEST_CASE("router: with no match and no default the node fails, naming the routes",
          "[control][router]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = must_load(eng, R"(
flow: strict
inputs: {n: {type: integer}}
nodes:
  r:
    type: router
    params: {routes: {big: "inputs.n > 100", small: "inputs.n < 10"}}
    inputs: {value: $inputs.n, n: $inputs.n}
  show: {type: passthrough, inputs: {value: r.big}}
outputs: {v: show.value}
)");
  auto r = eng.run(flow, {{"n", 50}}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "r");
  CHECK(r.error.find("no route matched (routes: big, small; no default)") != std::string::npos);
  // A condition that errors fails the node with Lua's message.
  auto bad = must_load(eng, R"(
flow: b
inputs: {n: {type: any}}
nodes:
  r: {type: router, params: {routes: {x: "inputs.n.deep > 1"}}, inputs: {value: $inputs.n, n: $inputs.n}}
outputs: {v: r.x}
)");
  auto rb = eng.run(bad, {{"n", 1}}).get();
  CHECK_FALSE(rb.ok);
  CHECK(rb.error.find("route 'x'") != std::string::npos);
}

TEST_CASE("router: file order decides between routes that both hold", "[control][router]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  // zeta is written first: it wins although "alpha" sorts first.
  auto flow = must_load(eng, R"(
flow: order
inputs: {x: {type: any, default: 1}}
nodes:
  r:
    type: router
    params:
      routes:
        zeta: "true"
        alpha: "true"
    inputs: {value: $inputs.x}
outputs: {z: r.zeta, a: r.alpha}
)");
  auto r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("z") == 1);
  CHECK(r.outputs.at("a").is_null());
}

TEST_CASE("skip rules: an optional input from a skipped source is absent; the node runs",
          "[control][skip]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  add_type(eng, "has_value", [](node_context& ctx, value_map in) {
    ctx.complete({{"value", in.count("value") ? "present" : "absent"}});
  });
  auto flow = must_load(eng, R"(
flow: opt
inputs: {go: {type: boolean}}
nodes:
  r: {type: router, params: {routes: {yes: "inputs.go"}, default: no}, inputs: {value: $inputs.go, go: $inputs.go}}
  probe: {type: has_value, inputs: {value: r.yes}}
outputs: {v: probe.value}
)");
  CHECK(eng.run(flow, {{"go", true}}).get().outputs.at("v") == "present");
  auto r = eng.run(flow, {{"go", false}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("v") == "absent");
}

TEST_CASE("skip rules: a variadic input skips its node only when nothing was produced",
          "[control][skip]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = must_load(eng, R"(
flow: v
inputs: {n: {type: integer}}
nodes:
  r:
    type: router
    params: {routes: {a: "inputs.n == 1", b: "inputs.n == 2"}, default: c}
    inputs: {value: $inputs.n, n: $inputs.n}
  j: {type: join, inputs: {values: [r.a, r.b, r.a]}}
  after: {type: passthrough, inputs: {value: j.values}}
outputs: {first: j.value, all: after.value}
)");
  auto r = eng.run(flow, {{"n", 1}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("all") == value::array({1, 1}));
  r = eng.run(flow, {{"n", 2}}).get();
  CHECK(r.outputs.at("first") == 2);
  CHECK(r.outputs.at("all") == value::array({2}));
  r = eng.run(flow, {{"n", 3}}).get();  // route c: nothing reaches j
  REQUIRE(r.ok);
  CHECK(r.outputs.at("first").is_null());
  CHECK(r.outputs.at("all").is_null());  // and `after` was skipped in turn
}

TEST_CASE("skip rules: a skip cascades down a long chain without recursion", "[control][skip]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  std::string text =
      "flow: chain\ninputs: {x: {type: any, default: 1}}\nnodes:\n"
      "  r: {type: router, params: {routes: {never: \"false\"}, default: other}, "
      "inputs: {value: $inputs.x}}\n"
      "  n0: {type: passthrough, inputs: {value: r.never}}\n";
  for (int i = 1; i < 2000; ++i)
    text += "  n" + std::to_string(i) + ": {type: passthrough, inputs: {value: n" +
            std::to_string(i - 1) + ".value}}\n";
  text += "outputs: {y: n1999.value, o: r.other}\n";
  auto r = eng.run(must_load(eng, text), {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("y").is_null());
  CHECK(r.outputs.at("o") == 1);
}

TEST_CASE("router validation: unknown route sockets and Lua syntax errors at their line",
          "[control][router][validation]") {
  engine eng(memory_options(std::make_shared<span_store>()));
  auto errors_of = [&](const std::string& text) {
    auto r = eng.load_string(text, "r.yaml");
    CHECK_FALSE(r.flow);
    std::string all;
    for (auto& d : r.errors) all += d.to_string() + "\n";
    return all;
  };
  auto e = errors_of(R"(flow: f
inputs: {x: {type: any}}
nodes:
  r: {type: router, params: {routes: {a: "true"}, default: b}, inputs: {value: $inputs.x}}
  n: {type: passthrough, inputs: {value: r.c}}
outputs: {y: n.value}
)");
  CHECK(e.find("r.yaml:5:") != std::string::npos);
  CHECK(e.find("has no output 'c'") != std::string::npos);
  CHECK(e.find("a, b") != std::string::npos);  // the sockets it has
  e = errors_of(R"(flow: f
inputs: {x: {type: any}}
nodes:
  r:
    type: router
    params:
      routes:
        ok: "inputs.x > 1"
        broken: "inputs.x >"
    inputs: {value: $inputs.x, x: $inputs.x}
outputs: {y: r.ok}
)");
  CHECK(e.find("r.yaml:9:") != std::string::npos);
  CHECK(e.find("route 'broken': Lua syntax error") != std::string::npos);
  e = errors_of(R"(flow: f
inputs: {x: {type: any}}
nodes:
  r: {type: router, params: {routes: {}}, inputs: {value: $inputs.x}}
  n: {type: passthrough, inputs: {value: $inputs.x}}
outputs: {y: n.value}
)");
  CHECK(e.find("at least one route") != std::string::npos);
}
