// The Lua evaluator (components/lua_sandbox.hpp) and the `lua` node type:
// every conversion rule, located syntax errors, each sandbox escape tried,
// and isolation between evaluations and between concurrent runs.
#include <atomic>
#include <fstream>
#include <thread>

#include "components/lua_sandbox.hpp"
#include "support/engine_fixture.hpp"

using namespace weft;
using Catch::Matchers::Contains;
using Catch::Matchers::StartsWith;
using weft::components::lua_binding;
using weft::components::lua_limits;
using weft::components::lua_sandbox;
using weft::test::must_load;

namespace {

components::lua_script compiled(const std::string& src) {
  auto c = lua_sandbox::compile(src, "script");
  INFO(c.error);
  REQUIRE(c.ok());
  return c.script;
}

// Runs `src` with `inputs` bound as the table `inputs`; the first result.
components::lua_value_result eval(const std::string& src, const flows::value_map& inputs = {},
                                  const lua_limits& limits = {}) {
  auto s = compiled(src);
  lua_binding in{"inputs", &inputs};
  return lua_sandbox::evaluate(s, {&in, 1}, limits);
}

flows::value ok_value(const std::string& src, const flows::value_map& inputs = {}) {
  auto r = eval(src, inputs);
  INFO(src << " -> " << r.error);
  REQUIRE(r.ok());
  return r.value;
}

std::string error_of(const std::string& src, const flows::value_map& inputs = {},
                     const lua_limits& limits = {}) {
  auto r = eval(src, inputs, limits);
  INFO(src << " -> " << r.value.dump());
  REQUIRE_FALSE(r.ok());
  return r.error;
}

std::shared_ptr<test::span_store> store() { return std::make_shared<test::span_store>(); }

template <class List>  // flows::diagnostics or std::vector<weft::error>
std::string all_errors(const List& ds) {
  std::string out;
  for (auto& d : ds) out += d.to_string() + "\n";
  return out;
}

}  // namespace

// --- conversion rules ---------------------------------------------------------

TEST_CASE("lua: JSON null is the constant null, nil means absent", "[lua]") {
  flows::value_map in{{"x", nullptr}};
  CHECK(ok_value("return inputs.x == null", in) == true);
  CHECK(ok_value("return type(null)") == "userdata");
  CHECK(ok_value("return inputs.x") == nullptr);
  CHECK(ok_value("return inputs.missing == nil", in) == true);
  CHECK(ok_value("return nil") == nullptr);
  // nil in a field: the key is absent; null: the key is there, null.
  CHECK(ok_value("return {a = nil, b = null}") == flows::value::parse(R"({"b": null})"));
  CHECK(ok_value("return {1, null, 3}") == flows::value::parse("[1, null, 3]"));
  CHECK(ok_value("return inputs.v", {{"v", flows::value::parse("[null, null]")}}) ==
        flows::value::parse("[null, null]"));
}

TEST_CASE("lua: booleans, strings and numbers keep their types", "[lua]") {
  CHECK(ok_value("return inputs.b", {{"b", true}}) == true);
  CHECK(ok_value("return not inputs.b", {{"b", true}}) == false);
  CHECK(ok_value("return inputs.s .. '!'", {{"s", "héllo"}}) == "héllo!");
  CHECK(ok_value("return #inputs.s", {{"s", "héllo"}}) == 6);  // bytes
  // Integers stay integers, floats stay floats (2.0 too).
  CHECK(ok_value("return math.type(inputs.i)", {{"i", 3}}) == "integer");
  CHECK(ok_value("return math.type(inputs.f)", {{"f", 3.5}}) == "float");
  CHECK(ok_value("return math.type(inputs.f)", {{"f", 2.0}}) == "float");
  auto i = ok_value("return inputs.i + 1", {{"i", 41}});
  CHECK(i.is_number_integer());
  CHECK(i == 42);
  auto f = ok_value("return 4 / 2");  // `/` is always float division in Lua
  CHECK(f.is_number_float());
  CHECK(f.get<double>() == 2.0);
  CHECK(ok_value("return 7 // 2").is_number_integer());
  CHECK(ok_value("return math.maxinteger") == INT64_MAX);
  CHECK(ok_value("return math.mininteger") == INT64_MIN);
  // An unsigned JSON integer past int64 has no Lua integer: it is a float.
  flows::value big = std::numeric_limits<std::uint64_t>::max();
  CHECK(ok_value("return math.type(inputs.u)", {{"u", big}}) == "float");
  CHECK(ok_value("return math.type(inputs.u)", {{"u", std::uint64_t{5}}}) == "integer");
}

TEST_CASE("lua: arrays are sequences, objects are string-keyed tables", "[lua]") {
  flows::value_map in{{"a", flows::value::parse("[10, 20, 30]")},
                      {"o", flows::value::parse(R"({"k": 1, "1": "one"})")}};
  CHECK(ok_value("return inputs.a[1] + inputs.a[3]", in) == 40);
  CHECK(ok_value("return #inputs.a", in) == 3);
  CHECK(ok_value("return inputs.o.k", in) == 1);
  // Object keys stay strings: "1" is not 1.
  CHECK(ok_value("return inputs.o['1']", in) == "one");
  CHECK(ok_value("return inputs.o[1] == nil", in) == true);
  CHECK(ok_value("return inputs.o", in) == flows::value::parse(R"({"k": 1, "1": "one"})"));
  // Round trips, including empty ones: an empty array keeps its mark.
  for (const char* j : {"[]", "{}", "[[]]", R"({"a": []})", R"([{}, [], {"x": [1, [2, {}]]}])"}) {
    INFO(j);
    CHECK(ok_value("return inputs.v", {{"v", flows::value::parse(j)}}) == flows::value::parse(j));
  }
  // Tables a script builds: 1..n is an array, string keys an object, and an
  // empty table an object unless array() marks it.
  CHECK(ok_value("return {1, 2, 3}") == flows::value::parse("[1, 2, 3]"));
  CHECK(ok_value("return {a = 1, b = {true}}") == flows::value::parse(R"({"a": 1, "b": [true]})"));
  CHECK(ok_value("return {}") == flows::value::object());
  CHECK(ok_value("return array()") == flows::value::array());
  CHECK(ok_value("return array({7})") == flows::value::parse("[7]"));
  CHECK(ok_value("return getmetatable(inputs.a)", in) == "array");
  // table.insert on an input array works, and it stays an array.
  CHECK(ok_value("local t = inputs.a; table.insert(t, 40); return t", in) ==
        flows::value::parse("[10, 20, 30, 40]"));
  CHECK(ok_value("local t = inputs.v; table.remove(t); return t",
                 {{"v", flows::value::parse("[1]")}}) == flows::value::array());
}

TEST_CASE("lua: results JSON cannot hold are errors naming the field", "[lua]") {
  CHECK(error_of("return {items = {1, 2, function() end}}") ==
        "lua: result.items[3]: a function cannot become JSON");
  CHECK(error_of("return 0/0") == "lua: result: NaN cannot become JSON");
  CHECK(error_of("return {x = math.huge}") == "lua: result.x: inf cannot become JSON");
  CHECK(error_of("return {x = -math.huge}") == "lua: result.x: -inf cannot become JSON");
  CHECK_THAT(error_of("return {1, 2, x = 3}"),
             StartsWith("lua: result: a table with both string keys and integer keys"));
  CHECK_THAT(error_of("return {[1] = 1, [3] = 3}"),
             StartsWith("lua: result: a table with integer keys that are not 1..2"));
  CHECK_THAT(error_of("return {[0] = 1}"), StartsWith("lua: result: a table with integer keys"));
  CHECK(error_of("return {[1.5] = 1}") ==
        "lua: result: a table with a float key cannot become JSON");
  CHECK(error_of("return {[true] = 1}") ==
        "lua: result: a table with a boolean key cannot become JSON");
  CHECK(error_of("return {a = {['b c'] = string}}") ==
        "lua: result.a[\"b c\"]: a userdata cannot become JSON");
  CHECK_THAT(error_of("return {s = '\\xff'}"),
             StartsWith("lua: result.s: the string is not valid UTF-8"));
  CHECK_THAT(error_of("return {['\\xc0'] = 1}"), Contains("the key is not valid UTF-8"));
  CHECK_THAT(error_of("local t = array(); t.x = 1; return t"),
             StartsWith("lua: result: a table marked as an array has string keys"));
}

TEST_CASE("lua: nesting past the depth limit is refused, both ways", "[lua]") {
  // Out: 64 levels pass, 65 fail, naming the field; a cycle is just deep.
  CHECK(ok_value("local t = {} for i = 1, 63 do t = {t} end return t").is_array());
  CHECK_THAT(error_of("local t = {} for i = 1, 64 do t = {t} end return {deep = t}"),
             StartsWith("lua: result.deep[1][1]"));
  CHECK_THAT(error_of("local t = {} for i = 1, 64 do t = {t} end return {deep = t}"),
             Contains("nested deeper than 64 levels (params.max_depth"));
  CHECK_THAT(error_of("local t = {} t.self = t return t"), Contains("contains itself"));
  lua_limits shallow;
  shallow.max_depth = 2;
  CHECK_THAT(error_of("return {a = {b = {}}}", {}, shallow),
             StartsWith("lua: result.a.b: nested deeper than 2"));
  // In: a value deeper than the limit never becomes Lua tables.
  flows::value deep = flows::value::array();
  for (int i = 0; i < 100; ++i) deep = flows::value::array({deep});
  CHECK_THAT(error_of("return 1", {{"x", {{"k", deep}}}}), StartsWith("lua: inputs.x.k[1][1][1]"));
  CHECK_THAT(error_of("return 1", {{"x", deep}}),
             Contains("nested deeper than 64 levels (params.max_depth)"));
  // A settable limit: deep enough for this one.
  lua_limits roomy;
  roomy.max_depth = 200;
  CHECK(eval("return #inputs.x", {{"x", deep}}, roomy).ok());
}

TEST_CASE("lua: a table shared many times over cannot blow up the result", "[lua]") {
  // 2^40 leaves in 40 levels of a few tables: refused by size, quickly.
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THAT(error_of("local t = {1} for i = 1, 40 do t = {t, t} end return t"),
             Contains("larger than 16777216 bytes once converted"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
}

// --- compiling --------------------------------------------------------------

TEST_CASE("lua: syntax errors come back with the script's line", "[lua]") {
  auto c = lua_sandbox::compile("local x = 1\nlocal y = (x + \nreturn y", "params.script");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error_line == 3);
  CHECK_THAT(c.error, Contains("unexpected symbol near 'return'"));
  auto e = lua_sandbox::compile_expression("inputs.score >", "when");
  REQUIRE_FALSE(e.ok());
  CHECK(e.error_line == 1);
  // Source text only: a binary chunk is refused.
  auto b = lua_sandbox::compile(std::string("\x1bLua\x54\x00", 6), "bin");
  REQUIRE_FALSE(b.ok());
  CHECK_THAT(b.error, Contains("binary"));
}

TEST_CASE("lua: a syntax error in a flow is a validation error at file:line:col", "[lua]") {
  engine eng(test::memory_options(store()));
  SECTION("literal block: the script's line is the file's") {
    auto r = eng.load_string(R"(flow: f
nodes:
  calc:
    type: lua
    params:
      script: |
        local a = 1
        local b = a +
        return {value = b}
outputs: {v: calc.value}
)",
                             "flow.yaml");
    REQUIRE_FALSE(r.flow);
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].file == "flow.yaml");
    CHECK(r.errors[0].line == 9);
    CHECK(r.errors[0].column == 9);
    CHECK_THAT(r.errors[0].to_string(),
               StartsWith("flow.yaml:9:9: error: node 'calc': param 'script': Lua syntax error: "
                          "unexpected symbol near 'return'"));
  }
  SECTION("one line: the value's place") {
    auto r = eng.load_string(
        "flow: f\nnodes:\n  calc: {type: lua, params: {script: 'return ('}}\n"
        "outputs: {v: calc.value}\n",
        "flow.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 3);
    CHECK(r.errors[0].column == 38);
    CHECK_THAT(r.errors[0].message, Contains("Lua syntax error: unexpected symbol near <eof>"));
  }
  SECTION("quoted over several lines: the value's place, and the script's line") {
    auto r = eng.load_string(
        "flow: f\nnodes:\n  calc: {type: lua, params: {script: \"local a = 1\\nreturn (\"}}\n"
        "outputs: {v: calc.value}\n",
        "flow.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].line == 3);
    CHECK_THAT(r.errors[0].message, Contains("Lua syntax error (line 2 of the script)"));
  }
  SECTION("bad params are located too") {
    auto r = eng.load_string(R"(flow: f
nodes:
  calc:
    type: lua
    params: {script: "return 1", outputs: [a, "b c", a], budget: 0, max_depth: 1000}
outputs: {v: calc.a}
)",
                             "flow.yaml");
    auto text = all_errors(r.errors);
    INFO(text);
    CHECK_THAT(text, Contains("flow.yaml:5:43: error: node 'calc': param 'outputs' has \"b c\""));
    CHECK_THAT(text, Contains("param 'outputs' names \"a\" twice"));
    CHECK_THAT(text, Contains("param 'budget' must be an integer from 1 to 100000000, got 0"));
    CHECK_THAT(text, Contains("param 'max_depth' must be an integer from 1 to 256, got 1000"));
  }
  SECTION("references to outputs the node does not list are errors") {
    auto r = eng.load_string(R"(flow: f
nodes:
  calc: {type: lua, params: {script: "return {a = 1}", outputs: [a]}}
outputs: {v: calc.value}
)",
                             "flow.yaml");
    CHECK_THAT(all_errors(r.errors), Contains("has no output 'value'; its outputs are: a"));
  }
}

// --- the sandbox ------------------------------------------------------------

TEST_CASE("lua: the sandbox has no way out", "[lua]") {
  // Each is a clean error, and the evaluator goes on working afterwards.
  const std::pair<const char*, const char*> escapes[] = {
      {"return os.execute('touch /tmp/weft-lua-escaped')", "global 'os'"},
      {"return io.open('/etc/passwd')", "global 'io'"},
      {"return load('return 1')()", "global 'load'"},
      {"return loadstring('return 1')", "global 'loadstring'"},
      {"return dofile('/etc/passwd')", "global 'dofile'"},
      {"return loadfile('/etc/passwd')", "global 'loadfile'"},
      {"return require('os')", "global 'require'"},
      {"return collectgarbage('count')", "global 'collectgarbage'"},
      {"return package.loaded", "global 'package'"},
      {"return debug.getregistry()", "global 'debug'"},
      {"return coroutine.create(print)", "global 'coroutine'"},
      {"print('x')", "global 'print'"},
      {"math.randomseed(1)", "field 'randomseed'"},
      {"string.rep = nil", "read-only"},
      {"rawset(string, 'x', 1)", "table expected, got userdata"},
      {"return getmetatable('').__index", "attempt to index a boolean value"},
      {"setmetatable({}, {__gc = function() end})", "__gc metamethods are not allowed"},
      {"return setmetatable(inputs.a, {})", "cannot change a protected metatable"},
      {"return string.dump(function() end)", nullptr},  // harmless without load
  };
  flows::value_map in{{"a", flows::value::parse("[1]")}};
  for (auto [src, expected] : escapes) {
    INFO(src);
    auto r = eval(src, in);
    if (!expected) continue;
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error, StartsWith("lua: "));
    CHECK_THAT(r.error, Contains(expected));
  }
  CHECK_FALSE(std::ifstream("/tmp/weft-lua-escaped").good());
  CHECK(ok_value("return 1 + 1") == 2);
}

TEST_CASE("lua: the instruction budget stops loops, even under pcall", "[lua]") {
  CHECK(error_of("while true do end") ==
        "lua: instruction budget of 1000000 exceeded (params.budget)");
  CHECK(error_of("while true do pcall(function() while true do end end) end") ==
        "lua: instruction budget of 1000000 exceeded (params.budget)");
  CHECK(error_of("local function f() return f() end return f()") ==
        "lua: instruction budget of 1000000 exceeded (params.budget)");
  lua_limits small;
  small.instructions = 100;
  CHECK(error_of("local s = 0 for i = 1, 1000 do s = s + i end return s", {}, small) ==
        "lua: instruction budget of 100 exceeded (params.budget)");
  CHECK(ok_value("local s = 0 for i = 1, 1000 do s = s + i end return s") == 500500);
  // Copying in C functions is paid for: a loop of 1 MiB string.reps.
  CHECK_THAT(error_of("local n = 0 while true do n = n + #string.rep('x', 1 << 20) end"),
             Contains("instruction budget"));
}

TEST_CASE("lua: the memory limit refuses big allocations cleanly", "[lua]") {
  const std::string mem = "lua: memory limit of 16 MiB exceeded (params.memory_bytes)";
  CHECK(error_of("return #string.rep('x', 1 << 30)") == mem);  // 1 GiB
  CHECK(error_of("local s = 'x' while true do s = s .. s end") == mem);
  // Table bombs: the budget stops them first by default; with budget to
  // spare, the memory limit does.
  CHECK_THAT(error_of("local t = {} for i = 1, 1e8 do t[i] = i end"), Contains("budget"));
  lua_limits rich;
  rich.instructions = 100'000'000;
  CHECK(error_of("local t = {} for i = 1, 1e8 do t[i] = i end", {}, rich) == mem);
  CHECK(error_of("local t = {} for i = 1, 1e8 do t[#t + 1] = {} end", {}, rich) == mem);
  CHECK(error_of("local t = {} for i = 1, 1e8 do t[i] = {i, {i}} end", {}, rich) == mem);
  // Caught by pcall, the script may carry on within its limit.
  CHECK(ok_value("local ok = pcall(string.rep, 'x', 1 << 30) return ok") == false);
  lua_limits small;
  small.memory_bytes = 64 * 1024;
  CHECK(error_of("return #string.rep('x', 100000)", {}, small) ==
        "lua: memory limit of 64 KiB exceeded (params.memory_bytes)");
  // Memory spent in one evaluation does not count against the next
  // (string.rep holds its buffer and the result: twice 6 MiB at the peak).
  for (int i = 0; i < 5; ++i) CHECK(ok_value("return #string.rep('x', 6 << 20)") == 6 << 20);
}

TEST_CASE("lua: no state survives from one evaluation to the next", "[lua]") {
  auto s = compiled(
      "local seen = counter; counter = (counter or 0) + 1; x = inputs.v; "
      "return {seen = seen == nil, x = x}");
  for (int i = 0; i < 20; ++i) {
    flows::value_map in{{"v", i}};
    lua_binding b{"inputs", &in};
    auto r = lua_sandbox::evaluate(s, {&b, 1}, {});
    REQUIRE(r.ok());
    CHECK(r.value == flows::value({{"seen", true}, {"x", i}}));
  }
  // Globals and library changes of another script are not seen either.
  CHECK(eval("string = nil; math = {}; _G.y = 1; tostring = nil").ok());
  CHECK(ok_value("return {y == nil, string.upper('a'), math.abs(-1), tostring(1)}") ==
        flows::value::parse(R"([true, "A", 1, "1"])"));
  CHECK(ok_value("return _G == _ENV") == true);
}

TEST_CASE("lua: runtime errors name the script line", "[lua]") {
  CHECK(error_of("local a = 1\nreturn inputs.nope.x") ==
        "lua: script:2: attempt to index a nil value (field 'nope')");
  CHECK(error_of("error('custom')") == "lua: script:1: custom");
  CHECK(error_of("error({})") == "lua: error object is a table value");
  CHECK(error_of("error(42)") == "lua: 42");
}

TEST_CASE("lua: conditions use Lua truth and convert nothing", "[lua]") {
  auto c = lua_sandbox::compile_expression("inputs.score > 0.8", "condition");
  REQUIRE(c.ok());
  for (auto [score, want] : {std::pair{0.9, true}, std::pair{0.5, false}}) {
    flows::value_map in{{"score", score}};
    lua_binding b{"inputs", &in};
    auto t = lua_sandbox::test(c.script, {&b, 1}, {});
    REQUIRE(t.ok());
    CHECK(t.value == want);
  }
  // A loop's `until`, over its outputs; a result that is no JSON is fine here.
  auto u = lua_sandbox::compile_expression("outputs.score >= 0.9 and print", "until");
  REQUIRE(u.ok());
  flows::value_map out{{"score", 0.95}};
  lua_binding b{"outputs", &out};
  auto t = lua_sandbox::test(u.script, {&b, 1}, {});
  REQUIRE(t.ok());
  CHECK(t.value == false);  // print is nil in the sandbox
  auto bad = lua_sandbox::test(u.script, {}, {});
  CHECK_THAT(bad.error, Contains("attempt to index a nil value (global 'outputs')"));
}

// --- the node type ------------------------------------------------------------

TEST_CASE("lua: a node's table result gives its outputs by name", "[lua]") {
  engine eng(test::memory_options(store()));
  auto flow = must_load(eng, R"(
flow: calc
inputs: {items: {type: array}, label: {type: string}}
nodes:
  sum:
    type: lua
    params:
      outputs: [total, label, missing]
      script: |
        local t = 0
        for _, x in ipairs(inputs.items) do t = t + x end
        return {total = t, label = inputs.label .. "=" .. t}
    inputs: {items: $inputs.items, label: $inputs.label}
  twice:
    type: lua
    params: {script: "return inputs.n * 2"}
    inputs: {n: sum.total}
outputs: {total: sum.total, label: sum.label, missing: sum.missing, twice: twice.value}
)");
  auto r = eng.run(flow, {{"items", {1, 2, 3.5}}, {"label", "sum"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("total") == 6.5);
  CHECK(r.outputs.at("label") == "sum=6.5");
  CHECK(r.outputs.at("missing") == nullptr);
  CHECK(r.outputs.at("twice") == 13.0);
}

TEST_CASE("lua: a node fails cleanly, and the engine goes on", "[lua]") {
  engine eng(test::memory_options(store()));
  auto load = [&](const std::string& script, const std::string& outputs = "[value]") {
    return must_load(eng,
                     "flow: f\ninputs: {x: {type: any}}\nnodes:\n  n:\n    type: lua\n"
                     "    params:\n      outputs: " +
                         outputs + "\n      script: |\n        " + script +
                         "\n    inputs: {x: $inputs.x}\noutputs: {v: n.value}\n");
  };
  const std::pair<std::string, std::string> cases[] = {
      {"while true do end", "lua: instruction budget of 1000000 exceeded (params.budget)"},
      {"return #string.rep('x', 1 << 30)",
       "lua: memory limit of 16 MiB exceeded (params.memory_bytes)"},
      {"return os.execute('true')", "attempt to index a nil value (global 'os')"},
      {"return {value = 1, extra = 2}", "lua: outputs.extra: not an output (outputs: value)"},
      {"return {1, 2}", "lua: outputs: the result table has a number key"},
      {"return {value = {items = {1, 2, print or function() end}}}",
       "lua: outputs.value.items[3]: a function cannot become JSON"},
  };
  for (auto& [script, message] : cases) {
    INFO(script);
    auto r = eng.run(load(script), {{"x", 1}}).get();
    CHECK_FALSE(r.ok);
    CHECK(r.failed_node == "n");
    CHECK_THAT(r.error, Contains(message));
  }
  auto r = eng.run(load("return inputs.x + 1"), {{"x", 1}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("v") == 2);
  // Without `value` among the outputs, a non-table result is an error.
  auto r2 = eng.run(must_load(eng,
                              "flow: g\nnodes:\n  n: {type: lua, params: {script: 'return 1', "
                              "outputs: [a]}}\noutputs: {v: n.a}\n"),
                    {})
                .get();
  CHECK_THAT(r2.error,
             Contains("lua: the script returned a number, not a table of outputs (outputs: a)"));
}

TEST_CASE("lua: 1,000 concurrent runs share no state", "[lua][concurrency]") {
  engine eng(test::memory_options(store()));
  // Each run stores its own input in a global and reads it back after a
  // loop long enough for other evaluations to interleave on other threads;
  // `leftover` sees whether any global was there before it set one.
  auto flow = must_load(eng, R"(
flow: iso
inputs: {id: {type: integer}}
nodes:
  first:
    type: lua
    params:
      outputs: [id, clean]
      script: |
        local clean = mine == nil and shared == nil
        mine = inputs.id
        shared = (shared or 0) + 1
        local s = 0
        for i = 1, 20000 do s = s + i end
        return {id = mine, clean = clean and shared == 1}
    inputs: {id: $inputs.id}
  second:
    type: lua
    params:
      outputs: [id, clean]
      script: |
        local clean = mine == nil
        mine = inputs.id * 10
        return {id = mine // 10, clean = clean and inputs.clean}
    inputs: {id: first.id, clean: first.clean}
outputs: {id: second.id, clean: second.clean}
)");
  constexpr int runs = 1000;
  std::vector<std::future<run_result>> fs;
  fs.reserve(runs);
  for (int i = 0; i < runs; ++i) fs.push_back(eng.run(flow, {{"id", i}}));
  int ok = 0;
  for (int i = 0; i < runs; ++i) {
    auto r = fs[static_cast<std::size_t>(i)].get();
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.outputs.at("id") == i);
    CHECK(r.outputs.at("clean") == true);
    ++ok;
  }
  CHECK(ok == runs);
}

TEST_CASE("lua: evaluations on many threads at once stay apart", "[lua][concurrency]") {
  auto s = compiled("g = inputs.v; local s = 0 for i = 1, 1000 do s = s + i end return g");
  std::atomic<int> wrong{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 8; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        flows::value_map in{{"v", t * 1000 + i}};
        lua_binding b{"inputs", &in};
        auto r = lua_sandbox::evaluate(s, {&b, 1}, {});
        if (!r.ok() || r.value != t * 1000 + i) ++wrong;
      }
    });
  for (auto& t : ts) t.join();
  CHECK(wrong == 0);
}
