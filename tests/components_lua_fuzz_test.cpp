// Fuzzing the bridge between JSON and Lua (components/lua_value.hpp), with
// seeded generators and a bounded number of cases, so failures reproduce.
//  - random JSON values survive `return inputs.v` unchanged;
//  - random Lua constructors come out as the JSON a model predicts, or as an
//    error naming a field of `result` when the model says JSON cannot hold
//    them;
//  - random token soup compiles or not, and runs or fails, without harm.
#include <functional>
#include <optional>
#include <random>

#include <catch2/catch.hpp>

#include "components/lua_sandbox.hpp"

using namespace weft;
using Catch::Matchers::StartsWith;
using weft::components::lua_binding;
using weft::components::lua_limits;
using weft::components::lua_sandbox;

namespace {

struct gen {
  std::mt19937_64 rng;
  explicit gen(std::uint64_t seed) : rng(seed) {}

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }

  std::string utf8_text() {
    std::string s;
    int n = pick(6);
    for (int i = 0; i < n; ++i) {
      switch (pick(4)) {
        case 0:
          s += static_cast<char>('a' + pick(26));
          break;
        case 1:
          s += "é";
          break;
        case 2:
          s += "\xe2\x82\xac";
          break;  // €
        default:
          s += "\xf0\x9f\x98\x80";
          break;  // 😀
      }
    }
    return s;
  }

  flows::value json(int depth) {
    int kinds = depth > 0 ? 9 : 7;
    switch (pick(kinds)) {
      case 0:
        return nullptr;
      case 1:
        return pick(2) == 0;
      case 2: {
        static const std::int64_t edges[] = {0, 1, -1, INT64_MAX, INT64_MIN, 1ll << 53};
        return pick(2) ? flows::value(edges[pick(6)])
                       : flows::value(static_cast<std::int64_t>(rng() >> pick(64)));
      }
      case 3:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng);
      case 4:
        return pick(2) ? 0.5 : -0.0;
      case 5:
      case 6:
        return utf8_text();
      case 7: {
        auto a = flows::value::array();
        for (int i = 0, n = pick(5); i < n; ++i) a.push_back(json(depth - 1));
        return a;
      }
      default: {
        auto o = flows::value::object();
        for (int i = 0, n = pick(5); i < n; ++i)
          o[pick(3) ? utf8_text() : std::to_string(i)] = json(depth - 1);
        return o;
      }
    }
  }

  // A Lua expression and the JSON it must become (nullopt: an error).
  struct expr {
    std::string lua;
    std::optional<flows::value> json;
  };

  expr lua(int depth) {
    int kinds = depth > 0 ? 16 : 11;
    switch (pick(kinds)) {
      case 0:
        return {"null", flows::value(nullptr)};
      case 1:
        return {"true", true};
      case 2: {
        auto k = static_cast<std::int64_t>(rng() >> pick(64)) - (1ll << 20);
        return {"(" + std::to_string(k) + ")", k};
      }
      case 3:
        return {"1.5", 1.5};
      case 4:
        return {"(7 // 2)", 3};
      case 5: {
        std::string s = utf8_text();
        return {"'" + s + "'", s};
      }
      case 6: {  // a code point by escape; surrogates make invalid UTF-8
        static const unsigned cps[] = {0x41, 0xE9, 0x20AC, 0x1F600, 0xD800, 0xDFFF, 0x10FFFF};
        unsigned cp = cps[pick(7)];
        char buf[32];
        std::snprintf(buf, sizeof buf, "'\\u{%X}'", cp);
        if (cp >= 0xD800 && cp <= 0xDFFF) return {buf, std::nullopt};
        std::string u;
        if (cp < 0x80) u += static_cast<char>(cp);
        else if (cp < 0x800)
          u += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
        else if (cp < 0x10000)
          u += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)),
                static_cast<char>(0x80 | (cp & 0x3F))};
        else
          u +=
              {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
               static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
        return {buf, u};
      }
      case 7:
        return {"(0/0)", std::nullopt};
      case 8:
        return {"math.huge", std::nullopt};
      case 9:
        return {"(function() end)", std::nullopt};
      case 10:
        return {"'\\xff'", std::nullopt};
      case 11: {  // a sequence
        auto a = flows::value::array();
        std::string s = "{";
        bool bad = false;
        for (int i = 0, n = 1 + pick(4); i < n; ++i) {
          auto e = lua(depth - 1);
          s += e.lua + ",";
          if (e.json) a.push_back(*e.json);
          else bad = true;
        }
        return {s + "}", bad ? std::nullopt : std::optional<flows::value>(a)};
      }
      case 12: {  // an object with identifier keys
        auto o = flows::value::object();
        std::string s = "{";
        bool bad = false;
        for (int i = 0, n = pick(4); i < n; ++i) {
          auto e = lua(depth - 1);
          std::string k = "k" + std::to_string(i);
          s += k + " = " + e.lua + ",";
          if (e.json) o[k] = *e.json;
          else bad = true;
        }
        return {s + "}", bad ? std::nullopt : std::optional<flows::value>(o)};
      }
      case 13:
        return {"array()", flows::value::array()};
      case 14: {  // mixed keys
        auto e = lua(depth - 1);
        return {"{" + e.lua + ", x = 1}", std::nullopt};
      }
      default: {  // a hole
        auto e = lua(depth - 1);
        return {"{[2] = " + e.lua + "}", std::nullopt};
      }
    }
  }
};

flows::value_map one(const flows::value& v) { return {{"v", v}}; }

}  // namespace

TEST_CASE("lua fuzz: random JSON values come back unchanged", "[lua][fuzz]") {
  auto c = lua_sandbox::compile("return inputs.v", "script");
  REQUIRE(c.ok());
  gen g(20261201);
  for (int i = 0; i < 3000; ++i) {
    flows::value v = g.json(6);
    auto in = one(v);
    lua_binding b{"inputs", &in};
    auto r = lua_sandbox::evaluate(c.script, {&b, 1}, {});
    INFO("case " << i << ": " << v.dump());
    REQUIRE(r.ok());
    REQUIRE(r.value == v);
    // Integers stay integers, floats stay floats.
    if (v.is_number()) REQUIRE(r.value.is_number_float() == v.is_number_float());
  }
}

TEST_CASE("lua fuzz: random constructors become the JSON the rules predict", "[lua][fuzz]") {
  gen g(8);
  int errors = 0;
  for (int i = 0; i < 3000; ++i) {
    auto e = g.lua(5);
    auto c = lua_sandbox::compile("return " + e.lua, "script");
    INFO("case " << i << ": " << e.lua << " -> " << c.error);
    REQUIRE(c.ok());
    auto r = lua_sandbox::evaluate(c.script, {}, {});
    INFO(r.error);
    REQUIRE(r.ok() == e.json.has_value());
    if (r.ok()) {
      REQUIRE(r.value == *e.json);
    } else {
      REQUIRE_THAT(r.error, StartsWith("lua: result"));
      ++errors;
    }
  }
  CHECK(errors > 300);  // the generator does reach the error rules
}

TEST_CASE("lua fuzz: values nested past the limit are refused at any place", "[lua][fuzz]") {
  auto c = lua_sandbox::compile("return inputs.v", "script");
  REQUIRE(c.ok());
  gen g(64);
  for (int i = 0; i < 300; ++i) {
    // A random value with a deep chain hung somewhere inside it.
    flows::value v = g.json(3);
    flows::value deep = 1;
    const int levels = 60 + g.pick(10);
    for (int d = 0; d < levels; ++d)
      deep = g.pick(2) ? flows::value::array({deep}) : flows::value({{"d", deep}});
    flows::value holder = flows::value::array({v, deep});
    auto in = one(holder);
    lua_binding b{"inputs", &in};
    auto r = lua_sandbox::evaluate(c.script, {&b, 1}, {});
    INFO(r.error);
    // holder adds one level: the chain fits up to 63 levels of its own.
    if (levels + 1 <= 64) {
      REQUIRE(r.ok());
      REQUIRE(r.value == holder);
    } else {
      REQUIRE_THAT(r.error, StartsWith("lua: inputs.v[2]"));
    }
  }
}

TEST_CASE("lua fuzz: token soup compiles or not, and runs or fails, without harm", "[lua][fuzz]") {
  static const char* const tokens[] = {"local",
                                       "x",
                                       "=",
                                       "{",
                                       "}",
                                       "(",
                                       ")",
                                       "[",
                                       "]",
                                       "1",
                                       "0",
                                       "'s'",
                                       "..",
                                       "+",
                                       "-",
                                       "*",
                                       "/",
                                       "//",
                                       "%",
                                       "^",
                                       "#",
                                       "==",
                                       "~=",
                                       "<",
                                       ">",
                                       "and",
                                       "or",
                                       "not",
                                       "return",
                                       "if",
                                       "then",
                                       "else",
                                       "end",
                                       "while",
                                       "do",
                                       "for",
                                       "in",
                                       "function",
                                       "inputs",
                                       "inputs.v",
                                       "null",
                                       "array",
                                       "pairs",
                                       "ipairs",
                                       "string.rep",
                                       "table.concat",
                                       "setmetatable",
                                       "pcall",
                                       "error",
                                       ",",
                                       ";",
                                       ".",
                                       ":",
                                       "t",
                                       "nil",
                                       "true",
                                       "math.huge",
                                       "goto",
                                       "::l::",
                                       "\n"};
  gen g(99);
  // Expressions that mostly parse, so that most cases also run.
  std::function<std::string(int)> expr = [&](int depth) -> std::string {
    static const char* const atoms[] = {"1",       "2.5",    "'s'", "inputs.v", "null",
                                        "t",       "{}",     "nil", "true",     "math.huge",
                                        "array()", "inputs", "-0.0"};
    static const char* const ops[] = {"+", "-",  "*",  "/", "//",  "%",
                                      "^", "..", "==", "<", "and", "or"};
    static const char* const calls[] = {
        "tostring",     "tonumber",     "type",  "string.rep",   "#",
        "table.concat", "ipairs",       "pairs", "setmetatable", "math.floor",
        "utf8.char",    "string.upper", "next"};
    if (depth <= 0 || g.pick(3) == 0) return atoms[g.pick(static_cast<int>(std::size(atoms)))];
    switch (g.pick(4)) {
      case 0:
        return expr(depth - 1) + " " + ops[g.pick(static_cast<int>(std::size(ops)))] + " " +
               expr(depth - 1);
      case 1:
        return "{" + expr(depth - 1) + ", " + expr(depth - 1) + "}";
      case 2:
        return "{k = " + expr(depth - 1) + "}";
      default: {
        std::string f = calls[g.pick(static_cast<int>(std::size(calls)))];
        return f == "#" ? "#" + expr(depth - 1) : f + "(" + expr(depth - 1) + ")";
      }
    }
  };
  lua_limits small;
  small.instructions = 20'000;
  small.memory_bytes = 1 << 20;
  int compiled = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 5000; ++i) {
    std::string src;
    if (i % 2) {
      src = "local t = " + expr(3) + "\nreturn " + expr(4);
    } else {
      for (int n = 1 + g.pick(24); n > 0; --n) {
        src += tokens[g.pick(static_cast<int>(std::size(tokens)))];
        src += ' ';
      }
    }
    auto c = lua_sandbox::compile(src, "soup");
    if (!c.ok()) continue;
    ++compiled;
    flows::value_map in{{"v", g.json(3)}};
    lua_binding b{"inputs", &in};
    auto r = lua_sandbox::evaluate(c.script, {&b, 1}, small);
    if (!r.ok()) REQUIRE_THAT(r.error, StartsWith("lua: "));
  }
  CHECK(compiled > 2000);
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(60));
}
