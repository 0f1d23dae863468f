// No input can crash the engine: values nested deeper than the limit are
// refused at every entry point with an error naming the input, before any
// code that walks values (content tracing, redaction, templates, encoders)
// sees them. `weft serve`'s bodies are covered in serve_hardening_test.cpp.
#include <fstream>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/lambda_component.hpp"
#include "support/weft_command.hpp"

using namespace weft;
using namespace weft::test;

namespace {

value nested(int depth) {
  // Built inside out without recursion; destroyed by nlohmann without
  // recursion too (3.10+).
  value v = 1;
  for (int i = 0; i < depth; ++i) {
    value a = value::array();
    a.push_back(std::move(v));
    v = std::move(a);
  }
  return v;
}

const char* const echo_flow = R"(
flow: deep
inputs: {x: {type: any}}
nodes:
  t: {type: template, params: {template: "{{x}}"}, inputs: {x: $inputs.x}}
outputs: {y: t.text}
)";

}  // namespace

TEST_CASE("engine: inputs nested deeper than max_value_depth are refused, naming the input",
          "[runtime][depth]") {
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.tracing.content = true;  // the walk that used to overflow
  engine eng(std::move(opts));
  auto flow = must_load(eng, echo_flow);
  // Moved in, never copied: nlohmann copies values recursively.
  value_map deep;
  deep.emplace("x", nested(20000));
  auto r = eng.run(flow, std::move(deep)).get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("input 'x' nests arrays and objects deeper than 64 levels") !=
        std::string::npos);
  // At the limit it runs.
  r = eng.run(flow, {{"x", nested(64)}}).get();
  CHECK(r.ok);
  value_map in;
  in.emplace("x", nested(65));
  auto problems = eng.prepare_inputs(flow, in);
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].code == error_code::invalid_input);
  CHECK(problems[0].field == "x");
  CHECK(value_depth(nested(65)) == 65);
  CHECK(value_depth(nested(100000), 70) == 70);
}

TEST_CASE("weft run refuses deep --inputs and -i values and exits 2", "[runtime][depth][cli]") {
  auto dir = scratch_dir();
  auto flow = dir / "deep.yaml";
  std::ofstream(flow) << echo_flow;
  auto deep = std::string(8000, '[') + std::string(8000, ']');
  std::ofstream(dir / "deep.json") << R"({"x": )" + deep + "}";
  auto r = run_weft("run '" + flow.string() + "' --inputs deep.json --trace-file t.jsonl",
                    "WEFT_TRACE_CONTENT=true");
  CHECK(r.code == 2);
  CHECK(r.err.find("deep.json: nests arrays and objects deeper than 64 levels") !=
        std::string::npos);
  r = run_weft("run '" + flow.string() + "' -i 'x=" + deep + "' --trace-file t.jsonl",
               "WEFT_TRACE_CONTENT=true");
  CHECK(r.code == 2);
  CHECK(r.err.find("deeper than 64") != std::string::npos);
}

TEST_CASE("engine: a component's output nested deeper than max_value_depth fails its node",
          "[runtime][depth]") {
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.max_value_depth = 10;
  opts.settings.tracing.content = true;  // the output would be dumped onto the span
  engine eng(std::move(opts));
  add_type(eng, "deep_maker", [](node_context& ctx, value_map in) {
    value_map out;
    out.emplace("value", nested(static_cast<int>(in.at("value").get<std::int64_t>())));
    ctx.complete(std::move(out));
  });
  auto flow = must_load(eng, one_node_flow("deep_maker"));
  auto r = eng.run(flow, {{"x", 10}}).get();
  CHECK(r.ok);
  r = eng.run(flow, {{"x", 5000}}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "n");
  CHECK(r.error.find("output 'value' nests arrays and objects deeper than 10 levels") !=
        std::string::npos);
}

TEST_CASE("engine: component factories get the engine's services (settings, value depth, env)",
          "[runtime][services]") {
  auto opts = memory_options(std::make_shared<span_store>());
  opts.max_value_depth = 12;
  opts.settings.http.max_connections = 7;
  engine eng(std::move(opts));
  flows::component_services seen;
  engine_internals::components(eng).add(
      {"probe",
       "records its services",
       {},
       false,
       {"value"},
       {},
       false,
       [&seen](const flows::node_spec&, const flows::component_services& svc,
               flows::diagnostics&) -> std::shared_ptr<const flows::component> {
         seen = svc;
         return nullptr;  // rejected: the load fails, which is fine here
       }});
  auto r = eng.load_string("flow: p\nnodes:\n  n: {type: probe}\n", "p.yaml");
  CHECK_FALSE(r.flow);
  CHECK(seen.max_value_depth == 12);
  CHECK(seen.settings.http.max_connections == 7);
  REQUIRE(seen.env);
  CHECK(seen.env("PATH").has_value());

  // The built-ins use them: a lua node's default depth is the engine's.
  auto flow = must_load(eng, R"(
flow: l
inputs: {n: {type: integer}}
nodes:
  deep:
    type: lua
    params: {script: "local t = {} ; local c = t ; for i = 1, inputs.n do c[1] = {} ; c = c[1] end ; return {value = t}"}
    inputs: {n: $inputs.n}
outputs: {v: deep.value}
)");
  auto ok = eng.run(flow, {{"n", 5}}).get();
  CHECK(ok.ok);
  auto bad = eng.run(flow, {{"n", 20}}).get();
  CHECK_FALSE(bad.ok);
  CHECK(bad.error.find("deeper than 12") != std::string::npos);
}
