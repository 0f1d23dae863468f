// The expression evaluator: Lua 5.4 in a sandbox, for `lua` nodes, router
// conditions and loop conditions.
//
//   auto c = lua_sandbox::compile_expression("inputs.score > 0.8", "condition");
//   if (!c.ok()) report(c.error_line, c.error);            // at load
//   lua_binding in{"inputs", &inputs};
//   auto t = lua_sandbox::test(c.script, {&in, 1}, {});    // per evaluation
//   if (!t.ok()) fail(t.error); else branch(t.value);
//
// Compiling happens once, at load; a compiled script is immutable and may be
// evaluated from any number of threads at once.
//
// What a script sees: the tables it is given (`inputs`, `outputs`, ...), the
// constant `null`, `array([t])` (marks t, or a new table, as a JSON array),
// base functions without load, loadstring, loadfile, dofile, require,
// collectgarbage, print and warn; `setmetatable` refuses `__gc`; and the
// libraries string, table, math (without randomseed) and utf8 as read-only
// userdata. No io, os, package, debug or coroutine.
//
// Isolation: each thread keeps one Lua state (never shared between threads)
// with the compiled chunks loaded in it. Every evaluation gets a fresh global
// table (_ENV) whose misses fall through to a base no script can reach or
// change, so a global set in one evaluation is never seen by another. The
// instruction budget and the memory limit are counted per evaluation. Lua
// errors are C++ exceptions here (Debian's liblua5.4-c++), so they unwind
// C++ frames properly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "flows/value.hpp"

namespace weft::components {

struct lua_limits {
  /// VM instructions per evaluation; each KiB allocated also counts as one,
  /// so C functions that copy (string.rep, table.concat) are paid for too.
  std::int64_t instructions = 1'000'000;
  /// Bytes the evaluation may allocate on top of what the state holds.
  std::size_t memory_bytes = 16u << 20;
  /// Deepest nesting of tables going in or out (at most 256).
  int max_depth = 64;
  /// Names of the settings, for messages ("... exceeded (params.budget)").
  const char* instructions_name = "params.budget";
  const char* memory_name = "params.memory_bytes";
  const char* depth_name = "params.max_depth";
};

/// A compiled chunk (Lua bytecode). Cheap to copy; empty when default-built.
class lua_script {
 public:
  lua_script() = default;
  explicit operator bool() const { return impl_ != nullptr; }
  const std::string& name() const;

  struct impl;

 private:
  friend class lua_sandbox;
  std::shared_ptr<const impl> impl_;
};

struct lua_compiled {
  lua_script script;  // set when error is empty
  /// The line of the source that Lua blames (1-based; 0 when none), and its
  /// message without the chunk name and line ("unexpected symbol near ')'").
  int error_line = 0;
  std::string error;
  bool ok() const { return error.empty(); }
};

/// One global the script sees: a table built from named values, or (when
/// `value` is set) that one value (`iteration` in a loop's condition).
struct lua_binding {
  std::string_view name;  // "inputs"
  const flows::value_map* fields = nullptr;
  const flows::value* value = nullptr;
};

struct lua_value_result {
  flows::value value;
  std::string error;  // "lua: ..." when the evaluation failed
  bool ok() const { return error.empty(); }
};

struct lua_truth_result {
  bool value = false;
  std::string error;
  bool ok() const { return error.empty(); }
};

class lua_sandbox {
 public:
  /// Compiles a chunk of statements; `name` appears in runtime errors
  /// ("params.script:3: attempt to index a nil value").
  static lua_compiled compile(std::string_view source, std::string_view name);
  /// Compiles one expression (`inputs.score > 0.8`) as `return (expr)`.
  static lua_compiled compile_expression(std::string_view expression, std::string_view name);

  /// Runs the script; its first result becomes a value (path root `result`
  /// in conversion errors).
  static lua_value_result evaluate(const lua_script& s, std::span<const lua_binding> globals,
                                   const lua_limits& limits);
  /// Runs the script; its first result's Lua truth (everything but nil and
  /// false is true, including 0, "" and null). Converts no result.
  static lua_truth_result test(const lua_script& s, std::span<const lua_binding> globals,
                               const lua_limits& limits);
  /// What `lua` nodes use: a table result is the outputs by name (each a
  /// name from `outputs`; one left out is null), anything else is the output
  /// `value`. The value is a JSON object of every output in `outputs`.
  static lua_value_result evaluate_outputs(const lua_script& s,
                                           std::span<const lua_binding> globals,
                                           const lua_limits& limits,
                                           const std::vector<std::string>& outputs);
};

}  // namespace weft::components
