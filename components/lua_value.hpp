// The bridge between weft's values (JSON) and Lua values.
//
// Internal to components/. The rules, which README.md documents for users:
//
//   JSON            Lua
//   null         ↔  `null`, one light userdata (a global constant: `x == null`)
//   true/false   ↔  boolean
//   integer      ↔  integer subtype (an unsigned JSON integer past int64 → float)
//   float        ↔  float subtype (2.0 stays a float; NaN and ±inf → error)
//   string       ↔  string (a Lua string going out must be valid UTF-8)
//   array        ↔  sequence 1..n carrying the `array` metatable, so an empty
//                   array comes back as [] and not {}
//   object       ↔  table with string keys ({"1": x} keeps the string key "1")
//
// A table going out becomes: an array if it carries the array mark or its
// keys are exactly the integers 1..n; an object if its keys are all strings
// or it is empty and unmarked; otherwise an error (mixed keys, holes, float,
// boolean or table keys). A Lua nil in a field means "absent". Functions,
// userdata other than `null`, and threads are errors. Every error names the
// field, as `outputs.value.items[3]` (Lua's 1-based indices).
//
// No walk can overflow a stack: both directions recurse one C frame per
// level and refuse to go deeper than `max_depth` (at most max_depth_cap). A
// result is also refused once its converted size passes `max_bytes`, so a
// table that holds the same subtable many times over (2^60 leaves in 60
// levels) fails fast instead of being copied out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "flows/value.hpp"

struct lua_State;

namespace weft::components::lua_bridge {

/// The most any setting may raise the nesting limit to: deeper than this,
/// one C frame per level would start to matter.
inline constexpr int max_depth_cap = 256;

/// One step of the path to a field, kept on the C stack while walking; a
/// message is only built from it when something is wrong.
struct path_step {
  const path_step* parent = nullptr;
  std::string_view key;  // a field name, or empty for an index
  long long index = 0;   // Lua's 1-based index, when key is empty
};

/// "outputs.value.items[3]"; keys that are not identifiers are quoted
/// (`outputs["a b"]`) and long ones cut short.
std::string path_text(const path_step& last);

/// Registers the metatables the bridge needs in `L`'s registry and returns
/// nothing; call once per state, inside a protected call.
void install(lua_State* L);

/// Pushes the `null` sentinel.
void push_null(lua_State* L);
/// Pushes the metatable that marks a table as a JSON array.
void push_array_mark(lua_State* L);

/// Pushes `v`. Allocates, so it must run inside a protected call. On a value
/// nested deeper than `max_depth` it stores a message naming the field in
/// `error` and raises a Lua error.
/// `depth_name` names the setting in the message ("params.max_depth").
void push(lua_State* L, const flows::value& v, int max_depth, std::string_view depth_name,
          const path_step& at, std::string& error);

struct out_limits {
  int max_depth = 64;
  std::size_t max_bytes = 16u << 20;
  std::string_view depth_name = "params.max_depth";  // named in messages
  std::string_view bytes_name = "params.memory_bytes";
};

/// Converts the value at `idx` into `out`. Uses only Lua calls that neither
/// allocate nor raise, so it may run outside a protected call; it never
/// calls back into Lua code (no metamethods). Returns an empty string on
/// success, else a message naming the field ("outputs.value.f: a function
/// cannot become JSON").
std::string to_value(lua_State* L, int idx, flows::value& out, const path_step& at,
                     const out_limits& limits);

/// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code
/// points past U+10FFFF). Sets `bad_at` to the offset of the first bad byte.
bool valid_utf8(std::string_view s, std::size_t& bad_at);

}  // namespace weft::components::lua_bridge
