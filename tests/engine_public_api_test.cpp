// The public embedding API as an embedder sees it (include/weft/weft.hpp):
// component types added through engine::add_component, a flow handle's
// declarations, and errors as values with the place at fault.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "support/engine_fixture.hpp"
#include "weft/weft.hpp"

using namespace weft;

namespace {

// Doubles `n` after a timer, opening a span of its own: the shape of an
// embedder's non-blocking component.
class doubler final : public component {
 public:
  void start(node_context& ctx, value_map in) const override {
    auto s = ctx.start_span("double.wait");
    const auto n = in["n"].get<std::int64_t>();
    ctx.after(std::chrono::milliseconds(1), [&ctx, s, n]() mutable {
      s.end();
      ctx.complete({{"n", 2 * n}});
    });
  }
};

component_type doubler_type() {
  component_type t;
  t.type = "acme.double";
  t.summary = "doubles n";
  t.inputs = {{"n"}};
  t.outputs = {"n"};
  t.params = {{"limit", false}};
  t.opens_spans = true;
  t.make = [](const node_info& node) -> std::shared_ptr<const component> {
    if (node.params.value("limit", 100) < 0)
      throw std::invalid_argument("param 'limit' must not be negative");
    return std::make_shared<doubler>();
  };
  return t;
}

const char* const doubling_flow = R"(flow: twice
description: doubles, then doubles again
inputs:
  n: {type: integer}
  label: {type: string, default: "x"}
nodes:
  a: {type: acme.double, inputs: {n: $inputs.n}}
  b: {type: acme.double, params: {limit: 5}, inputs: {n: a.n}}
outputs: {n: b.n, label: $inputs.label}
)";

}  // namespace

TEST_CASE("add_component: a public component type runs, with its own spans", "[api][components]") {
  auto spans = std::make_shared<test::span_store>();
  engine eng(test::memory_options(spans));
  REQUIRE(eng.add_component(doubler_type()).empty());
  auto types = eng.component_types();
  CHECK(std::find(types.begin(), types.end(), "acme.double") != types.end());

  auto loaded = eng.load_string(doubling_flow, "twice.yaml");
  REQUIRE(loaded);
  auto r = eng.run(loaded.flow, {{"n", 5}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("n") == 20);
  eng.shutdown();
  // The run span, two node spans and one double.wait under each node.
  auto all = spans->snapshot();
  CHECK(all.size() == 5);
  CHECK(std::count_if(all.begin(), all.end(),
                      [](const auto& s) { return s.name == "double.wait"; }) == 2);
}

TEST_CASE("add_component: what is wrong with a type comes back as errors naming the field",
          "[api][components]") {
  engine eng(test::memory_options(std::make_shared<test::span_store>()));
  component_type t;
  t.type = "9lives";
  t.inputs = {{"x"}, {"x"}};
  t.outputs = {""};
  auto errs = eng.add_component(t);
  REQUIRE(errs.size() == 4);
  for (const auto& e : errs) CHECK(e.code == error_code::invalid_component);
  CHECK(errs[0].field == "type");
  CHECK_THAT(errs[0].message, Catch::Contains("not a valid type name"));
  CHECK(errs[1].field == "make");
  CHECK(errs[2].field == "inputs");
  CHECK_THAT(errs[2].message, Catch::Contains("'x' is listed twice"));
  CHECK(errs[3].field == "outputs");
  auto types = eng.component_types();
  CHECK(std::find(types.begin(), types.end(), "9lives") == types.end());
}

TEST_CASE("add_component: a factory that throws is a load error at the node's line",
          "[api][components]") {
  engine eng(test::memory_options(std::make_shared<test::span_store>()));
  REQUIRE(eng.add_component(doubler_type()).empty());
  // Validation comes first: an unknown param is an error before any
  // factory runs.
  auto typo = eng.load_string(R"(flow: f
inputs: {n: {type: integer}}
nodes:
  ok: {type: acme.double, inputs: {n: $inputs.n}}
  typo: {type: acme.double, params: {limt: 1}, inputs: {n: ok.n}}
outputs: {n: typo.n}
)",
                              "f.yaml");
  REQUIRE_FALSE(typo);
  REQUIRE(typo.errors.size() == 1);
  CHECK(typo.errors[0].code == error_code::invalid_flow);
  CHECK(typo.errors[0].line == 5);
  CHECK_THAT(typo.errors[0].message, Catch::Contains("limt"));

  // Then the factory: what it throws points at its node.
  auto loaded = eng.load_string(R"(flow: f
inputs: {n: {type: integer}}
nodes:
  ok: {type: acme.double, inputs: {n: $inputs.n}}
  bad: {type: acme.double, params: {limit: -1}, inputs: {n: ok.n}}
outputs: {n: bad.n}
)",
                                "f.yaml");
  REQUIRE_FALSE(loaded);
  REQUIRE(loaded.errors.size() == 1);
  const auto& e = loaded.errors[0];
  CHECK(e.code == error_code::invalid_flow);
  CHECK(e.file == "f.yaml");
  CHECK(e.line == 5);
  CHECK(e.message == "node 'bad' (acme.double): param 'limit' must not be negative");
  CHECK_THAT(e.to_string(), Catch::StartsWith("f.yaml:5:"));
}

TEST_CASE("flow handle: name, description, declared inputs and outputs", "[api][flow]") {
  engine eng(test::memory_options(std::make_shared<test::span_store>()));
  REQUIRE(eng.add_component(doubler_type()).empty());
  auto loaded = eng.load_string(doubling_flow, "twice.yaml");
  REQUIRE(loaded);
  const flow& f = loaded.flow;
  CHECK(f.name() == "twice");
  CHECK(f.description() == "doubles, then doubles again");
  CHECK(f.source() == "twice.yaml");
  auto in = f.inputs();
  REQUIRE(in.size() == 2);
  CHECK(in[0].name == "n");
  CHECK(in[0].type == "integer");
  CHECK(in[0].required);
  CHECK(in[1].name == "label");
  CHECK_FALSE(in[1].required);
  CHECK(in[1].default_json == "\"x\"");
  CHECK(f.outputs() == std::vector<std::string>{"n", "label"});
  CHECK(f.nodes() == std::vector<std::string>{"a", "b"});

  const flow empty;
  CHECK_FALSE(empty);
  CHECK(empty.name().empty());
  CHECK(empty.inputs().empty());
}

TEST_CASE("prepare_inputs: one error per input, with its field; defaults applied",
          "[api][inputs]") {
  engine eng(test::memory_options(std::make_shared<test::span_store>()));
  REQUIRE(eng.add_component(doubler_type()).empty());
  auto loaded = eng.load_string(doubling_flow, "twice.yaml");
  REQUIRE(loaded);
  value_map bad{{"n", "five"}, {"extra", 1}};
  auto errs = eng.prepare_inputs(loaded.flow, bad);
  REQUIRE(errs.size() == 2);
  for (const auto& e : errs) CHECK(e.code == error_code::invalid_input);
  CHECK(errs[0].field == "extra");
  CHECK(errs[1].field == "n");
  CHECK(errs[1].to_string() == errs[1].message);  // no file: the message alone

  value_map good{{"n", 1}};
  CHECK(eng.prepare_inputs(loaded.flow, good).empty());
  CHECK(good.at("label") == "x");

  value_map any;
  auto none = eng.prepare_inputs(flow{}, any);
  REQUIRE(none.size() == 1);
  CHECK_THAT(none[0].message, Catch::Contains("no flow given"));
}

TEST_CASE("errors: to_string names the place as compilers do", "[api][errors]") {
  error e;
  e.code = error_code::invalid_flow;
  e.message = "unknown node type 'x'";
  e.file = "a.yaml";
  e.line = 3;
  e.column = 7;
  CHECK(e.to_string() == "a.yaml:3:7: error: unknown node type 'x'");
  CHECK(std::string(to_string(error_code::invalid_input)) == "invalid_input");
}
