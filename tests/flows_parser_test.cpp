// The flow parser and validation: one bad file per kind of error, with the
// message and the place it points at; good files in YAML and JSON; `${NAME}`
// substitution; and the hostile input the parser must survive.
#include <catch2/catch.hpp>

#include "flows/flow_limits.hpp"
#include "flows/names.hpp"
#include "flows_test_support.hpp"

using namespace weft::flows;
using namespace weft::flows::test;

namespace {

// A minimal valid flow, to build variants from.
constexpr const char* minimal = R"(flow: minimal
nodes:
  one:
    type: const
    params: {value: 1}
outputs:
  out: one.value
)";

}  // namespace

// --- good files ----------------------------------------------------------------

TEST_CASE("a good YAML flow parses into the right structure", "[flows]") {
  auto r = parse_fixture("good_greet.yaml");
  INFO(r.dump());
  REQUIRE(r.spec);
  REQUIRE(r.errs.empty());
  const flow_spec& s = *r.spec;
  CHECK(s.name == "greet");
  CHECK(s.description == "Greets someone");
  CHECK(s.file == fixture_path("good_greet.yaml"));
  CHECK(s.timeout_ms == 5000);

  REQUIRE(s.inputs.size() == 3);
  CHECK(s.inputs[0].name == "name");
  CHECK(s.inputs[0].type == value_type::string);
  CHECK_FALSE(s.inputs[0].default_value);
  CHECK(s.inputs[0].loc.line == 6);
  CHECK(s.inputs[0].loc.col == 3);
  CHECK(s.inputs[1].default_value == value("!"));
  CHECK(s.inputs[2].name == "times");  // the short form, `times: integer`
  CHECK(s.inputs[2].type == value_type::integer);

  // Nodes keep file order; order does not matter for validity (shout uses
  // hello, which comes after it).
  REQUIRE(s.nodes.size() == 2);
  const node_spec* shout = s.find_node("shout");
  const node_spec* hello = s.find_node("hello");
  REQUIRE(shout);
  REQUIRE(hello);
  CHECK(&s.nodes[0] == shout);
  CHECK(shout->type == "passthrough");
  CHECK(shout->timeout_ms == 1000);
  CHECK(shout->loc.file == s.file);
  CHECK(shout->loc.line == 10);
  CHECK(shout->loc.col == 3);
  REQUIRE(shout->inputs.size() == 1);
  const socket_binding& b = shout->inputs[0];
  CHECK(b.socket == "value");
  CHECK_FALSE(b.list);
  REQUIRE(b.sources.size() == 1);
  CHECK_FALSE(b.sources[0].from_flow_input);
  CHECK(b.sources[0].node == "hello");
  CHECK(b.sources[0].socket == "text");
  CHECK(b.sources[0].to_string() == "hello.text");
  CHECK(b.sources[0].loc.line == 12);
  CHECK(b.sources[0].loc.col == 21);

  CHECK(hello->params == value{{"template", "Hello, {{name}}{{punctuation}}"}});
  CHECK_FALSE(hello->timeout_ms);
  REQUIRE(hello->inputs.size() == 2);
  CHECK(hello->inputs[1].socket == "punctuation");
  CHECK(hello->inputs[1].sources[0].from_flow_input);
  CHECK(hello->inputs[1].sources[0].socket == "punctuation");
  CHECK(hello->inputs[1].sources[0].to_string() == "$inputs.punctuation");

  REQUIRE(s.outputs.size() == 1);
  CHECK(s.outputs[0].name == "greeting");
  CHECK(s.outputs[0].source.to_string() == "shout.value");
  CHECK(s.outputs[0].loc.line == 19);
  CHECK(s.find_input("punctuation") == &s.inputs[1]);
  CHECK(s.find_input("nope") == nullptr);
  CHECK(s.find_node("nope") == nullptr);
}

TEST_CASE("JSON is accepted, with variadic sockets and typed params", "[flows]") {
  auto r = parse_fixture("good_join.json");
  INFO(r.dump());
  REQUIRE(r.spec);
  const flow_spec& s = *r.spec;
  CHECK(s.name == "join-json");
  CHECK(s.inputs[1].type == value_type::any);
  const node_spec* both = s.find_node("both");
  REQUIRE(both);
  CHECK(both->loc.line == 6);
  CHECK(both->params["separator"] == ", ");
  CHECK(both->params["limits"] ==
        value{{"max", 3}, {"ratio", 0.5}, {"on", true}, {"none", nullptr}});
  CHECK(both->params["limits"]["max"].is_number_integer());
  REQUIRE(both->inputs.size() == 1);
  CHECK(both->inputs[0].list);
  REQUIRE(both->inputs[0].sources.size() == 2);
  CHECK(both->inputs[0].sources[0].to_string() == "first.value");
  CHECK(both->inputs[0].sources[1].to_string() == "$inputs.b");
  // A variadic socket given one source still gets a list: an array of one.
  const node_spec* one = s.find_node("one");
  REQUIRE(one);
  CHECK(one->inputs[0].list);
  CHECK(one->inputs[0].sources.size() == 1);
}

TEST_CASE("plain scalars follow the YAML 1.2 core schema; quoted ones are strings", "[flows]") {
  auto r = parse_text(R"(flow: scalars
nodes:
  c:
    type: const
    params:
      value:
        int: 42
        neg: -7
        float: 1.5e3
        yes_word: yes
        bool: true
        null_word: ~
        empty:
        quoted_int: "42"
        single: '3'
        tagged: !!str 12
        big: 18446744073709551615
        huge: 1e400
        text: hello world
        block: |
          two
          lines
)");
  INFO(r.dump());
  REQUIRE(r.spec);
  const value& v = r.spec->nodes[0].params["value"];
  CHECK(v["int"] == 42);
  CHECK(v["neg"] == -7);
  CHECK(v["float"] == 1500.0);
  CHECK(v["yes_word"] == "yes");  // YAML 1.1's yes/no booleans are not booleans here
  CHECK(v["bool"] == true);
  CHECK(v["null_word"].is_null());
  CHECK(v["empty"].is_null());
  CHECK(v["quoted_int"] == "42");
  CHECK(v["single"] == "3");
  CHECK(v["tagged"] == "12");
  CHECK(v["big"].is_number_unsigned());
  CHECK(v["huge"] == "1e400");  // not representable in JSON: kept as text
  CHECK(v["text"] == "hello world");
  CHECK(v["block"] == "two\nlines\n");
}

TEST_CASE("an input declared as a bare type string or an empty mapping", "[flows]") {
  auto r = parse_text(R"(flow: decls
inputs:
  a: number
  b: {}
  c: {type: array, default: [1, 2], description: some numbers}
nodes:
  n: {type: passthrough, inputs: {value: $inputs.a}}
)");
  INFO(r.dump());
  REQUIRE(r.spec);
  CHECK(r.spec->inputs[0].type == value_type::number);
  CHECK(r.spec->inputs[1].type == value_type::any);
  CHECK(r.spec->inputs[2].default_value == value::array({1, 2}));
}

// --- one bad file per kind of error -------------------------------------------

TEST_CASE("unknown keys are named, with the valid ones and a suggestion", "[flows]") {
  auto r = parse_fixture("bad_unknown_key.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(2, 1,
              "unknown key 'nodez' at top level (did you mean 'nodes'?); valid keys are: flow, "
              "description, timeout_ms, inputs, nodes, outputs"));
  CHECK(r.has(1, 1, "missing required key 'nodes'"));

  auto n = parse_fixture("bad_node_unknown_key.yaml");
  INFO(n.dump());
  CHECK(n.has(7, 5,
              "unknown key 'input' in node 'hello' (did you mean 'inputs'?); valid keys "
              "are: type, params, inputs, timeout_ms, placement, description"));

  auto d = parse_fixture("bad_default_type.yaml");
  INFO(d.dump());
  CHECK(d.has(5, 39, "unknown key 'descripton' in input 'ok' (did you mean 'description'?)"));
}

TEST_CASE("duplicate node ids are caught although YAML keeps only one", "[flows]") {
  auto r = parse_fixture("bad_duplicate_node.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(6, 3, "duplicate node id 'hello'; first defined at line 3"));
  // The repeated node is not read as well: no errors about its content.
  CHECK(r.errs.size() == 1);
}

TEST_CASE("duplicate keys are caught in every mapping", "[flows]") {
  auto r = parse_fixture("bad_duplicate_key.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(9, 7, "duplicate key 'template' in nodes.hello.params; first defined at line 8"));

  auto top = parse_text("flow: a\nflow: b\nnodes: {n: {type: const, params: {value: 1}}}\n");
  INFO(top.dump());
  CHECK(top.has(2, 1, "duplicate key 'flow' at top level; first defined at line 1"));

  auto deep = parse_text(R"(flow: deep
nodes:
  n:
    type: const
    params:
      value: [{a: 1, b: 2, a: 3}]
)");
  INFO(deep.dump());
  CHECK(deep.has(6, 28, "duplicate key 'a' in nodes.n.params.value[0]"));

  auto json = parse_text(R"({"flow": "j", "flow": "k", "nodes": {}})");
  INFO(json.dump());
  CHECK(json.has(1, 15, "duplicate key 'flow'"));
}

TEST_CASE("unknown component types, without cascading errors about the node", "[flows]") {
  auto r = parse_fixture("bad_unknown_type.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(6, 11,
              "node 'shout': unknown component type 'passthru' (did you mean 'passthrough'?); "
              "known types: const, join, passthrough, sleep, template"));
  // What it references is still checked...
  CHECK(r.has(7, 41, "node 'shout': input 'other': unknown node 'nowhere'"));
  // ...but not its sockets or params, nor the outputs others take from it.
  CHECK_FALSE(r.mentions("valu"));
  CHECK_FALSE(r.mentions("whatever"));
  CHECK_FALSE(r.mentions("anything"));
  CHECK(r.errs.size() == 2);
}

TEST_CASE("unknown sockets at either end of an edge", "[flows]") {
  auto target = parse_fixture("bad_unknown_socket.yaml");
  INFO(target.dump());
  CHECK(target.has(9, 7,
                   "node 'shout': unknown input socket 'valu' for type passthrough (did you "
                   "mean 'value'?); valid inputs are: value"));
  CHECK(target.errs.size() == 1);

  auto source = parse_fixture("bad_unknown_output_socket.yaml");
  INFO(source.dump());
  CHECK(source.has(11, 21,
                   "node 'shout': input 'value': node 'hello' (type template) has no output "
                   "'txt' (did you mean 'text'?); its outputs are: text"));
  CHECK(source.errs.size() == 1);

  // Open inputs (template) take any socket name, but not a list.
  auto open = parse_text(R"(flow: open
inputs: {a: string}
nodes:
  t:
    type: template
    params: {template: x}
    inputs: {anything: $inputs.a, many: [$inputs.a]}
)");
  INFO(open.dump());
  CHECK(open.errs.size() == 1);
  CHECK(open.has(7, 35, "input 'many' takes a single source, not a list"));

  auto none = parse_text(R"(flow: none
nodes:
  c: {type: const, params: {value: 1}, inputs: {x: c2.value}}
  c2: {type: const, params: {value: 1}}
)");
  INFO(none.dump());
  CHECK(none.has(3, 49, "unknown input socket 'x' for type const; it takes no inputs"));
}

TEST_CASE("references to nodes and flow inputs that do not exist", "[flows]") {
  auto node = parse_fixture("bad_unknown_node.yaml");
  INFO(node.dump());
  CHECK(node.has(8, 21,
                 "node 'shout': input 'value': unknown node 'helo' (did you mean 'hello'?); "
                 "nodes are: hello, shout"));
  CHECK(node.errs.size() == 1);

  auto input = parse_fixture("bad_unknown_input.yaml");
  INFO(input.dump());
  CHECK(input.has(8, 21,
                  "node 'shout': input 'value': unknown flow input 'nme' (did you mean "
                  "'name'?); flow inputs are: name, punctuation"));

  auto no_inputs = parse_text(R"(flow: x
nodes:
  n: {type: passthrough, inputs: {value: $inputs.q}}
)");
  INFO(no_inputs.dump());
  CHECK(no_inputs.has(3, 42, "unknown flow input 'q'; the flow declares no inputs"));
}

TEST_CASE("sources must be $inputs.NAME or NODE.SOCKET", "[flows]") {
  auto r = parse_fixture("bad_bad_source.yaml");
  INFO(r.dump());
  CHECK(r.has(5, 21,
              "node 'n': input 'value': bad source 'just text'; expected $inputs.NAME or "
              "NODE.SOCKET"));
  // The socket counts as connected: no "required input not connected" too.
  CHECK(r.errs.size() == 1);

  auto nested = parse_text(R"(flow: x
nodes:
  n: {type: passthrough, inputs: {value: {a: b}}}
)");
  INFO(nested.dump());
  CHECK(nested.has(3, 42, "input 'value': expected a source"));
}

TEST_CASE("required inputs that are not connected", "[flows]") {
  auto r = parse_fixture("bad_required_input.yaml");
  INFO(r.dump());
  CHECK(r.has(3, 3, "node 'shout': required input 'value' of type passthrough is not connected"));
  CHECK(r.has(5, 3, "node 'gather': required input 'items' of type join is not connected"));

  auto empty_list = parse_text(R"(flow: x
nodes:
  j: {type: join, inputs: {items: []}}
)");
  INFO(empty_list.dump());
  CHECK(empty_list.has(3, 28, "node 'j': input 'items' needs at least one source"));
}

TEST_CASE("a list given to a socket that is not variadic", "[flows]") {
  auto r = parse_fixture("bad_list_to_single.yaml");
  INFO(r.dump());
  CHECK(r.has(9, 7,
              "node 'shout': input 'value' of type passthrough takes a single source, not a "
              "list"));
  CHECK(r.errs.size() == 1);
}

TEST_CASE("cycles are reported with the nodes on them", "[flows]") {
  auto r = parse_fixture("bad_cycle.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  // Data flows c -> a -> b -> c; the cycle starts at the node first in the file.
  CHECK(r.has(3, 3, "cycle: c -> a -> b -> c"));
  CHECK(r.has(12, 3, "cycle: d -> d"));
  // e only hangs off the cycle; it is on none.
  CHECK_FALSE(r.mentions("e ->"));
  CHECK(r.errs.size() == 2);
}

TEST_CASE("bad names: flow, node ids, inputs, outputs, sockets", "[flows]") {
  auto r = parse_fixture("bad_names.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(1, 7, "bad flow name 'bad name!'; flow names match [A-Za-z0-9_.-]"));
  CHECK(r.has(3, 3, "bad input name '1st'; names must match [A-Za-z_][A-Za-z0-9_]*"));
  CHECK(r.has(5, 3, "bad node id 'my-node'"));
  CHECK(r.has(7, 34, "bad socket name 'bad socket'"));
  CHECK(r.has(9, 3, "bad output name 'out put'"));
  // A bad socket name is not also an unknown socket.
  CHECK_FALSE(r.mentions("unknown input socket"));

  auto long_name = parse_text("flow: " + std::string(65, 'x') + "\nnodes: {}\n");
  CHECK(long_name.has(1, 7, "bad flow name"));
  auto long_id = parse_text("flow: x\nnodes:\n  " + std::string(65, 'n') +
                            ": {type: const, params: {value: 1}}\n");
  CHECK(long_id.has(3, 3, "bad node id"));
}

TEST_CASE("params of the wrong type, unknown params, missing params", "[flows]") {
  auto type = parse_fixture("bad_param_type.yaml");
  INFO(type.dump());
  CHECK(type.has(5, 18, "node 'wait': param 'ms' must be integer, got string"));
  CHECK(type.has(9, 17, "node 'render': param 'template' must be string, got array"));

  auto unknown = parse_fixture("bad_unknown_param.yaml");
  INFO(unknown.dump());
  CHECK(
      unknown.has(7, 7, "node 'wait': unknown param 'msec' for type sleep; valid params are: ms"));
  CHECK(unknown.errs.size() == 1);

  auto missing = parse_fixture("bad_missing_param.yaml");
  INFO(missing.dump());
  CHECK(missing.has(5, 5, "node 'wait': missing required param 'ms' (integer) for type sleep"));
  CHECK(missing.has(6, 3, "node 'render': missing required param 'template' (string)"));

  auto none = parse_text(R"(flow: x
inputs: {a: string}
nodes:
  p: {type: passthrough, params: {x: 1}, inputs: {value: $inputs.a}}
)");
  INFO(none.dump());
  CHECK(none.has(4, 35, "unknown param 'x' for type passthrough; it takes no params"));

  auto integral = parse_text(R"(flow: x
nodes:
  s: {type: sleep, params: {ms: 10.0}}
)");
  INFO(integral.dump());
  CHECK(integral.spec);  // 10.0 is an integer in JSON's eyes
}

TEST_CASE("outputs that point nowhere", "[flows]") {
  auto r = parse_fixture("bad_output.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(9, 6, "output 'a': node 'hello' (type const) has no output 'valu'"));
  CHECK(r.has(10, 6, "output 'b': unknown node 'nowhere'"));
  CHECK(r.has(11, 6, "output 'c': unknown flow input 'nam' (did you mean 'name'?)"));
  CHECK(r.has(12, 6, "output 'd': bad source 'not-a-source'"));
  CHECK(r.has(13, 6, "output 'e': expected a source"));
}

TEST_CASE("empty and non-mapping documents", "[flows]") {
  for (const char* text : {"", "   \n\n", "# just a comment\n", "~\n", "---\n"}) {
    auto r = parse_text(text);
    INFO(r.dump());
    CHECK_FALSE(r.spec);
    CHECK(r.has(1, 1, "empty document; a flow file is a mapping with keys: flow, description"));
  }
  auto fixture = parse_fixture("bad_empty.yaml");
  CHECK(fixture.has(1, 1, "empty document"));

  auto list = parse_fixture("bad_not_mapping.yaml");
  INFO(list.dump());
  CHECK(list.has(1, 1, "expected a mapping at top level, got a sequence"));

  auto scalar = parse_text("just words\n");
  CHECK(scalar.has(1, 1, "expected a mapping at top level, got a scalar"));

  auto no_nodes = parse_text("flow: x\nnodes: {}\n");
  CHECK(no_nodes.has(2, 8, "nodes is empty"));
  auto null_nodes = parse_text("flow: x\nnodes:\n");
  CHECK(null_nodes.has(2, 1, "nodes is empty"));
  auto list_nodes = parse_text("flow: x\nnodes: [a, b]\n");
  CHECK(list_nodes.has(2, 8, "nodes must be a mapping from node id to node, got a sequence"));
  auto no_flow = parse_text("nodes: {n: {type: const, params: {value: 1}}}\n");
  CHECK(no_flow.has(1, 1, "missing required key 'flow'"));
  auto node_not_map = parse_text("flow: x\nnodes:\n  n: const\n");
  CHECK(node_not_map.has(3, 6, "node 'n': expected a mapping with keys: type, params"));
  auto no_type = parse_text("flow: x\nnodes:\n  n: {params: {}}\n");
  CHECK(no_type.has(3, 3, "node 'n': missing required key 'type'"));
}

TEST_CASE("YAML syntax errors point at the place yaml-cpp stopped", "[flows]") {
  auto r = parse_fixture("bad_syntax.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  REQUIRE(r.errs.size() == 1);
  CHECK(r.errs[0].loc.line == 5);
  CHECK(r.errs[0].message.rfind("YAML syntax error: ", 0) == 0);

  auto tab = parse_text("flow: x\nnodes:\n\tn: 1\n");
  INFO(tab.dump());
  CHECK_FALSE(tab.spec);
  CHECK(tab.errs.size() >= 1);
  // yaml-cpp lets a quote run to the end of the text; the flow still fails.
  auto unclosed = parse_text("flow: \"x\nnodes: {}\n");
  CHECK_FALSE(unclosed.spec);
  auto alias = parse_text("flow: *nowhere\n");
  CHECK(alias.has(1, 0, "YAML syntax error"));
}

TEST_CASE("input declarations: types, defaults, descriptions", "[flows]") {
  auto r = parse_fixture("bad_default_type.yaml");
  INFO(r.dump());
  CHECK(r.has(3, 35, "input 'count': default must be integer, got string"));
  CHECK(r.has(4, 16,
              "input 'kind': unknown type 'strin' (did you mean 'string'?); valid types are: "
              "string, number, integer, boolean, object, array, any"));

  auto list =
      parse_text("flow: x\ninputs: [a, b]\nnodes: {n: {type: const, params: {value: 1}}}\n");
  CHECK(list.has(2, 9, "inputs must be a mapping from input name to type, got a sequence"));
  auto seq_decl =
      parse_text("flow: x\ninputs: {a: [string]}\nnodes: {n: {type: const, params: {value: 1}}}\n");
  CHECK(seq_decl.has(2, 13, "input 'a': expected a type name"));
}

TEST_CASE("timeouts must be positive integers", "[flows]") {
  auto r = parse_fixture("bad_timeout.yaml");
  INFO(r.dump());
  CHECK(r.has(2, 13, "timeout_ms must be a positive integer (milliseconds), got '-5'"));
  CHECK(r.has(7, 17, "node 'n': timeout_ms must be a positive integer (milliseconds), got 'soon'"));
  for (const char* bad : {"0", "1.5", "\"100\"", "99999999999999999999", "[1]"}) {
    std::string text = minimal;  // appended: see fixture_path on GCC 12
    text.append("timeout_ms: ").append(bad).append("\n");
    auto t = parse_text(text);
    INFO(bad);
    CHECK(t.has(8, 13, "timeout_ms must be a positive integer"));
  }
}

TEST_CASE("several errors are all reported, sorted by position", "[flows]") {
  auto r = parse_fixture("bad_many_errors.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  REQUIRE(r.errs.size() == 5);
  CHECK(r.has(2, 1, "unknown key 'colour' at top level"));
  CHECK(r.has(5, 11, "unknown component type 'passthru'"));
  CHECK(r.has(6, 3, "node 'two': required input 'value' of type passthrough is not connected"));
  CHECK(r.has(10, 18, "node 'three': param 'ms' must be integer, got string"));
  CHECK(r.has(13, 11, "output 'result': unknown node 'four'"));
  CHECK(std::is_sorted(r.errs.begin(), r.errs.end(), [](const diagnostic& a, const diagnostic& b) {
    return std::tie(a.loc.line, a.loc.col) < std::tie(b.loc.line, b.loc.col);
  }));
}

TEST_CASE("diagnostics print as file:line:col: error: message", "[flows]") {
  auto r = parse_fixture("bad_unknown_param.yaml");
  REQUIRE(r.errs.size() == 1);
  CHECK(r.errs[0].to_string() == fixture_path("bad_unknown_param.yaml") +
                                     ":7:7: error: node 'wait': unknown param 'msec' for type "
                                     "sleep; valid params are: ms");
  CHECK(diagnostic{{"", 0, 0}, "m"}.to_string() == "<string>:0:0: error: m");
}

TEST_CASE("an unreadable file is a diagnostic", "[flows]") {
  registry components = test_registry();
  diagnostics errs;
  CHECK_FALSE(parse_flow_file("/nonexistent/flow.yaml", components, errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].to_string() ==
        "/nonexistent/flow.yaml:0:0: error: cannot read file: No such file or directory");

  errs.clear();
  CHECK_FALSE(parse_flow_file(WEFT_SOURCE_DIR "/tests/flows", components, errs));
  REQUIRE(errs.size() == 1);
  CHECK(errs[0].message == "cannot read file: Is a directory");
}

TEST_CASE("earlier diagnostics in the list do not fail a good flow", "[flows]") {
  registry components = test_registry();
  diagnostics errs{{{"other.yaml", 1, 1}, "from before"}};
  auto spec = parse_flow(minimal, "m.yaml", components, errs, test_env());
  CHECK(spec);
  CHECK(errs.size() == 1);
}

// --- ${NAME} in params -----------------------------------------------------------

TEST_CASE("${NAME} in params is replaced from the environment", "[flows]") {
  auto r = parse_text(R"(flow: env
nodes:
  call:
    type: const
    params:
      value:
        url: "https://${WEFT_TEST_HOST}/v1"
        headers: {auth: "Bearer ${WEFT_TEST_TOKEN}"}
        list: ["${WEFT_TEST_HOST}", 3, "x${WEFT_TEST_EMPTY}y"]
        literal: "$${WEFT_TEST_HOST} and $5 and $"
        "${WEFT_TEST_HOST}": keys stay as written
  other:
    type: template
    description: "${NOT_A_PARAM} is not substituted outside params"
    params: {template: "${WEFT_TEST_TOKEN}"}
)");
  INFO(r.dump());
  REQUIRE(r.spec);
  const value& v = r.spec->nodes[0].params["value"];
  CHECK(v["url"] == "https://example.org/v1");
  CHECK(v["headers"]["auth"] == "Bearer s3cret-token");
  CHECK(v["list"] == value::array({"example.org", 3, "xy"}));
  CHECK(v["literal"] == "${WEFT_TEST_HOST} and $5 and $");
  CHECK(v["${WEFT_TEST_HOST}"] == "keys stay as written");
  CHECK(r.spec->nodes[1].params["template"] == "s3cret-token");
}

TEST_CASE("unset variables name the variable and the param path", "[flows]") {
  auto r = parse_fixture("bad_env.yaml");
  INFO(r.dump());
  CHECK_FALSE(r.spec);
  CHECK(r.has(6, 17,
              "node 'call': param 'template': environment variable 'WEFT_TEST_UNSET_KEY' is "
              "not set"));
  CHECK(r.has(6, 17, "environment variable 'HOME_DIR' is not set"));
  // Set in test_env(), so fine; headers is only an unknown param.
  CHECK_FALSE(r.mentions("WEFT_TEST_TOKEN"));
  CHECK(r.has(7, 7, "unknown param 'headers'"));

  // With an environment that lacks it, the nested path is named.
  env_lookup empty = [](const std::string&) { return std::optional<std::string>{}; };
  auto bare = parse_fixture("bad_env.yaml", empty);
  INFO(bare.dump());
  CHECK(bare.has(8, 16,
                 "node 'call': param 'headers.auth[0]': environment variable 'WEFT_TEST_TOKEN' "
                 "is not set"));

  auto unclosed = parse_text(R"(flow: x
nodes:
  c: {type: const, params: {value: "${OOPS"}}
)");
  CHECK(unclosed.has(3, 36, "'${' is never closed"));
  auto bad_name = parse_text(R"(flow: x
nodes:
  c: {type: const, params: {value: "${1BAD}"}}
)");
  CHECK(bad_name.has(3, 36, "bad environment variable name '1BAD'"));
}

TEST_CASE("substituted values never appear in messages", "[flows]") {
  // A type error in a param built from a secret must not print the secret.
  auto r = parse_text(R"(flow: x
nodes:
  s: {type: sleep, params: {ms: "${WEFT_TEST_TOKEN}"}}
)");
  INFO(r.dump());
  CHECK(r.has(3, 33, "param 'ms' must be integer, got string"));
  CHECK_FALSE(r.mentions("s3cret"));
}

TEST_CASE("process_env reads the process environment", "[flows]") {
  env_lookup env = process_env();
  CHECK(env("PATH").has_value());
  CHECK_FALSE(env("WEFT_SURELY_NOT_SET_ANYWHERE_42").has_value());
}

// --- hostile input ---------------------------------------------------------------

TEST_CASE("deep nesting is rejected without deep recursion", "[flows]") {
  auto brackets = parse_text(std::string(100000, '['));
  INFO(brackets.dump());
  CHECK(brackets.has(1, 257, "brackets nested more than 256 levels deep"));

  auto braces = parse_text("flow: x\nnodes: " + std::string(100000, '{'));
  CHECK(braces.mentions("nested more than"));

  std::string dashes;
  for (int i = 0; i < 100000; ++i) dashes += "- ";
  auto seqs = parse_text(dashes + "x");
  INFO(seqs.dump());
  CHECK(seqs.has(1, 513, "'- ' and '? ' indicators nested more than 256 levels deep"));
  std::string few_dashes;
  for (int i = 0; i < 100; ++i) few_dashes += "- ";
  auto few = parse_text(few_dashes + "x");
  INFO(few.dump());
  CHECK(few.has(1, 129, "nesting deeper than 64 levels"));

  // Within yaml-cpp's limits but past ours: in params, where nesting is free.
  std::string params = "flow: x\nnodes:\n  c:\n    type: const\n    params:\n      value: ";
  params += std::string(100, '[') + std::string(100, ']') + "\n";
  auto deep = parse_text(params);
  INFO(deep.dump());
  CHECK(deep.mentions("nesting deeper than 64 levels"));

  std::string block = "flow: x\nnodes:\n";
  for (int i = 0; i < 80; ++i)
    block += std::string(2 * i + 2, ' ') + "k" + std::to_string(i) + ":\n";
  auto indented = parse_text(block);
  INFO(indented.dump());
  CHECK(indented.mentions("nesting deeper than 64 levels"));

  // 60 levels is allowed.
  std::string ok = "flow: x\nnodes:\n  c:\n    type: const\n    params:\n      value: ";
  ok += std::string(55, '[') + std::string(55, ']') + "\n";
  CHECK(parse_text(ok).spec);
}

TEST_CASE("aliases: shared values work, bombs and self-reference do not", "[flows]") {
  auto shared = parse_text(R"(flow: x
nodes:
  a: {type: const, params: {value: &v {k: [1, 2]}}}
  b: {type: const, params: {value: *v}}
)");
  INFO(shared.dump());
  REQUIRE(shared.spec);
  CHECK(shared.spec->nodes[1].params["value"] == value{{"k", {1, 2}}});

  std::string bomb =
      "flow: x\nnodes:\n  a: {type: const, params: {value: 1}}\nl0: &l0 [x, x, x, x, x, x, x, x, "
      "x, x]\n";
  for (int i = 1; i < 10; ++i) {
    bomb += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) bomb += std::string(j ? ", " : "") + "*l" + std::to_string(i - 1);
    bomb += "]\n";
  }
  auto b = parse_text(bomb);
  INFO(b.dump());
  CHECK_FALSE(b.spec);
  CHECK(b.mentions("document expands to more than 200000 nodes"));

  auto self = parse_text("flow: x\nnodes:\n  a: {type: const, params: {value: &s [1, *s]}}\n");
  INFO(self.dump());
  CHECK_FALSE(self.spec);
  CHECK(self.has(3, 36, "an alias refers to a collection that contains it"));

  // Aliases count at the depth they are used: 40 levels used at 40 is 80.
  std::string nest = std::string(40, '[') + std::string(40, ']');
  auto deep_alias = parse_text("flow: x\nnodes:\n  a: {type: const, params: {value: &d " + nest +
                               "}}\n  b: {type: const, params: {value: " + std::string(30, '[') +
                               "*d" + std::string(30, ']') + "}}\n");
  INFO(deep_alias.dump());
  CHECK(deep_alias.mentions("nesting deeper than 64 levels"));
}

TEST_CASE("tags, keys that are not strings, multiple documents", "[flows]") {
  auto tag = parse_text("flow: x\nnodes:\n  a: {type: const, params: {value: !custom 1}}\n");
  INFO(tag.dump());
  CHECK(tag.has(3, 36, "unsupported tag '!custom'"));
  auto bad_int = parse_text("flow: x\nnodes:\n  a: {type: const, params: {value: !!int abc}}\n");
  CHECK(bad_int.has(3, 36, "'abc' is not a valid !!int"));
  auto good_tags = parse_text(
      "flow: x\nnodes:\n  a: {type: const, params: {value: [!!int 3, !!float 2, !!bool true, "
      "!!null ~, !!str 5]}}\n");
  INFO(good_tags.dump());
  REQUIRE(good_tags.spec);
  CHECK(good_tags.spec->nodes[0].params["value"] == value::array({3, 2.0, true, nullptr, "5"}));

  auto key = parse_text("flow: x\n[a, b]: 1\nnodes: {a: {type: const, params: {value: 1}}}\n");
  INFO(key.dump());
  CHECK(key.has(2, 1, "mapping keys must be strings, not a sequence (at top level)"));

  auto ended = parse_text(std::string{minimal} + "...\nflow: second\n");
  CHECK(ended.has(9, 1, "a second YAML document starts here"));
  // "---" opening the only document is fine.
  CHECK(parse_text("%YAML 1.2\n---\n" + std::string{minimal} + "...\n# end\n").spec);

  // yaml-cpp 0.7 loops forever on a document that starts with ',' if asked
  // for all documents (jbeder/yaml-cpp#1040); here it is a plain error.
  for (const char* comma : {",", ",flow: x\n", "  , x", "---\n,\n"}) {
    auto c = parse_text(comma);
    INFO(c.dump());
    CHECK(c.mentions("YAML syntax error: unexpected ','"));
  }

  auto docs = parse_text(std::string{minimal} + "---\nflow: second\n");
  INFO(docs.dump());
  CHECK_FALSE(docs.spec);
  CHECK(docs.has(8, 1, "a second YAML document starts here; a flow file holds exactly one"));
}

TEST_CASE("binary junk, bad UTF-8, control characters, oversized text", "[flows]") {
  auto utf8 = parse_text("flow: x\nnodes:\n  a\xff: {}\n");
  CHECK(utf8.has(3, 4, "invalid UTF-8"));
  auto overlong = parse_text("flow: \xc0\xaf\n");
  CHECK(overlong.has(1, 7, "invalid UTF-8"));
  auto nul = parse_text(std::string("flow: x\0y\n", 10));
  CHECK(nul.has(1, 8, "control character '\\x00' is not allowed"));
  auto big = parse_text(std::string(max_flow_bytes + 1, ' '));
  CHECK(big.mentions("the limit is"));
  // Good UTF-8 is fine, in values and in messages (names are escaped).
  auto unicode = parse_text(
      "flow: x\ndescription: \"h\xc3\xa9llo \xf0\x9f\x8c\x8d\"\nnodes:\n  "
      "n\xc3\xa9: {type: const, params: {value: 1}}\n");
  INFO(unicode.dump());
  CHECK(unicode.has(4, 3, "bad node id 'n\\xc3\\xa9'"));
}

TEST_CASE("names, quoting and suggestions", "[flows]") {
  CHECK(is_flow_name("greet-v1.2_x"));
  CHECK_FALSE(is_flow_name(""));
  CHECK_FALSE(is_flow_name("a b"));
  CHECK(is_identifier("_a1"));
  CHECK_FALSE(is_identifier("1a"));
  CHECK_FALSE(is_identifier("a-b"));
  CHECK(quote("a\nb") == "'a\\x0ab'");
  CHECK(quote(std::string(100, 'x')) == "'" + std::string(60, 'x') + "...'");
  CHECK(closest_match("passthru", {"const", "passthrough", "template"}) == "passthrough");
  CHECK(closest_match("a", {"b", "c"}).empty());
  CHECK(closest_match("zzzzzz", {"nodes"}).empty());
  CHECK(did_you_mean("nodez", {"flow", "nodes"}) == " (did you mean 'nodes'?)");
}
