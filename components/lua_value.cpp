#include "components/lua_value.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <lua.hpp>

namespace weft::components::lua_bridge {
namespace {

// Registry keys: the addresses of these are unique, their values unused.
const char array_mt_key = 0;
// The `null` sentinel is this address as a light userdata: equal to itself
// only, and shared by every state without being anybody's mutable state.
const char null_sentinel = 0;

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 40) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string quoted_key(std::string_view key) {
  constexpr std::size_t shown = 32;
  bool cut = key.size() > shown;
  std::string k{key.substr(0, cut ? shown : key.size())};
  // `replace` turns bytes that are not UTF-8 (or a code point cut in two by
  // the shortening) into U+FFFD instead of throwing.
  std::string q = flows::value(k).dump(-1, ' ', false, flows::value::error_handler_t::replace);
  if (cut) q.insert(q.size() - 1, "...");
  return q;
}

// --- JSON -> Lua ------------------------------------------------------------

struct pusher {
  lua_State* L;
  int max_depth;
  std::string_view depth_name;
  std::string& error;

  // Raises a Lua error (a C++ exception in the C++ build of Lua, so the
  // frames it unwinds run their destructors). Callers return after it for
  // the compiler's sake; it does not come back.
  void fail(std::string msg) {
    error = std::move(msg);
    lua_pushstring(L, error.c_str());
    lua_error(L);
  }

  void push(const flows::value& v, int depth, const path_step& at) {
    using t = flows::value::value_t;
    switch (v.type()) {
      case t::null:
      case t::discarded:
        push_null(L);
        return;
      case t::boolean:
        lua_pushboolean(L, v.get<bool>());
        return;
      case t::number_integer:
        lua_pushinteger(L, static_cast<lua_Integer>(v.get<std::int64_t>()));
        return;
      case t::number_unsigned: {
        auto u = v.get<std::uint64_t>();
        // Past int64 Lua has no integer for it: the float is the honest
        // nearest value (documented).
        if (u <= static_cast<std::uint64_t>(LUA_MAXINTEGER))
          lua_pushinteger(L, static_cast<lua_Integer>(u));
        else lua_pushnumber(L, static_cast<lua_Number>(u));
        return;
      }
      case t::number_float:
        lua_pushnumber(L, v.get<double>());
        return;
      case t::string: {
        auto& s = v.get_ref<const std::string&>();
        lua_pushlstring(L, s.data(), s.size());
        return;
      }
      case t::binary:
        return fail("lua: " + path_text(at) + ": binary values cannot go into Lua");
      case t::array:
      case t::object:
        break;
    }
    if (depth + 1 > max_depth)
      return fail("lua: " + path_text(at) + ": nested deeper than " + std::to_string(max_depth) +
                  " levels (" + std::string{depth_name} + ")");
    // Each level holds a table and a key or value on the stack.
    if (!lua_checkstack(L, 4))
      return fail("lua: " + path_text(at) + ": too deep for the Lua stack");
    if (v.is_array()) {
      lua_createtable(L, static_cast<int>(std::min<std::size_t>(v.size(), 1u << 20)), 0);
      lua_Integer i = 0;
      for (const auto& x : v) {
        ++i;
        path_step step{&at, {}, i};
        push(x, depth + 1, step);
        lua_rawseti(L, -2, i);
      }
      lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
      lua_setmetatable(L, -2);
    } else {
      lua_createtable(L, 0, static_cast<int>(std::min<std::size_t>(v.size(), 1u << 20)));
      for (const auto& [k, x] : v.items()) {
        lua_pushlstring(L, k.data(), k.size());
        path_step step{&at, k, 0};
        push(x, depth + 1, step);
        lua_rawset(L, -3);
      }
    }
  }
};

// --- Lua -> JSON ------------------------------------------------------------

struct converter {
  lua_State* L;
  const out_limits& limits;
  std::size_t bytes = 0;
  std::string error;

  bool fail(const path_step& at, const std::string& what) {
    error = path_text(at) + ": " + what;
    return false;
  }

  bool charge(const path_step& at, std::size_t n) {
    bytes += n;
    if (bytes <= limits.max_bytes) return true;
    return fail(at, "the result is larger than " + std::to_string(limits.max_bytes) +
                        " bytes once converted (" + std::string{limits.bytes_name} +
                        "; a table referenced many times is copied each time)");
  }

  bool string_of(int idx, std::string& out, const path_step& at, const char* what) {
    std::size_t n = 0;
    const char* p = lua_tolstring(L, idx, &n);  // a string already: no conversion
    std::string_view s{p, n};
    std::size_t bad = 0;
    if (!valid_utf8(s, bad))
      return fail(at, std::string{what} + " is not valid UTF-8 (byte " + std::to_string(bad + 1) +
                          " of " + std::to_string(n) + ")");
    out.assign(p, n);
    return true;
  }

  bool convert(int idx, flows::value& out, int depth, const path_step& at) {
    if (!charge(at, 16)) return false;
    switch (lua_type(L, idx)) {
      case LUA_TNIL:
        out = nullptr;
        return true;
      case LUA_TBOOLEAN:
        out = lua_toboolean(L, idx) != 0;
        return true;
      case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
          out = static_cast<std::int64_t>(lua_tointeger(L, idx));
          return true;
        } else {
          double d = lua_tonumber(L, idx);
          if (std::isnan(d)) return fail(at, "NaN cannot become JSON");
          if (std::isinf(d))
            return fail(at, std::string{d > 0 ? "inf" : "-inf"} + " cannot become JSON");
          out = d;
          return true;
        }
      case LUA_TSTRING: {
        std::string s;
        if (!string_of(idx, s, at, "the string")) return false;
        if (!charge(at, s.size())) return false;
        out = std::move(s);
        return true;
      }
      case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == &null_sentinel) {
          out = nullptr;
          return true;
        }
        return fail(at, "a light userdata cannot become JSON");
      case LUA_TTABLE:
        return table(idx, out, depth, at);
      default:
        return fail(at,
                    std::string{"a "} + lua_typename(L, lua_type(L, idx)) + " cannot become JSON");
    }
  }

  bool table(int idx, flows::value& out, int depth, const path_step& at) {
    if (depth + 1 > limits.max_depth)
      return fail(at, "nested deeper than " + std::to_string(limits.max_depth) + " levels (" +
                          std::string{limits.depth_name} + "; or a table that contains itself)");
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 4)) return fail(at, "too deep for the Lua stack");
    bool marked = false;
    if (lua_getmetatable(L, idx)) {
      lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key);
      marked = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
    }
    // First pass: what kind of keys. lua_next is raw and allocates nothing,
    // and number keys are read without converting them (which would confuse
    // lua_next).
    std::size_t strings = 0, integers = 0;
    lua_Integer max_index = 0;
    const char* odd = nullptr;  // the type of the first unusable key
    bool out_of_range = false;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      lua_pop(L, 1);
      int kt = lua_type(L, -1);
      if (kt == LUA_TSTRING) {
        ++strings;
      } else if (kt == LUA_TNUMBER && lua_isinteger(L, -1)) {
        lua_Integer k = lua_tointeger(L, -1);
        if (k < 1) out_of_range = true;
        max_index = std::max(max_index, k);
        ++integers;
      } else if (!odd) {
        odd = kt == LUA_TNUMBER ? "float" : lua_typename(L, kt);
      }
    }
    if (odd) {
      return fail(at, std::string{"a table with a "} + odd + " key cannot become JSON");
    }
    if (strings && integers)
      return fail(at,
                  "a table with both string keys and integer keys cannot become JSON "
                  "(use string keys only, or a sequence 1..n)");
    if (integers || marked) {
      if (strings) return fail(at, "a table marked as an array has string keys");
      if (out_of_range || max_index != static_cast<lua_Integer>(integers))
        return fail(at, "a table with integer keys that are not 1.." + std::to_string(integers) +
                            " (a sequence with holes?) cannot become JSON; use null for gaps");
      out = flows::value::array();
      auto& arr = out.get_ref<flows::value::array_t&>();
      arr.resize(integers);
      for (lua_Integer i = 1; i <= max_index; ++i) {
        lua_rawgeti(L, idx, i);
        path_step step{&at, {}, i};
        bool ok = convert(-1, arr[static_cast<std::size_t>(i - 1)], depth + 1, step);
        lua_pop(L, 1);
        if (!ok) return false;
      }
      return true;
    }
    out = flows::value::object();
    auto& obj = out.get_ref<flows::value::object_t&>();
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      std::size_t n = 0;
      const char* k = lua_tolstring(L, -2, &n);
      path_step step{&at, {k, n}, 0};
      std::string key;
      if (!string_of(-2, key, step, "the key") || !charge(step, key.size())) {
        lua_pop(L, 2);
        return false;
      }
      flows::value& slot = obj[std::move(key)];
      bool ok = convert(-1, slot, depth + 1, step);
      lua_pop(L, 1);
      if (!ok) {
        lua_pop(L, 1);
        return false;
      }
    }
    return true;
  }
};

}  // namespace

std::string path_text(const path_step& last) {
  std::vector<const path_step*> steps;
  for (const path_step* s = &last; s; s = s->parent) steps.push_back(s);
  std::string out;
  for (auto i = steps.rbegin(); i != steps.rend(); ++i) {
    const path_step& s = **i;
    if (i == steps.rbegin()) {
      out += s.key;  // the root: "inputs", "outputs", "result"
    } else if (s.key.data() == nullptr) {
      // Appended piece by piece: GCC 12 at -O3 reports "[" + ... + "]" as
      // overlapping (-Wrestrict, a false positive of GCC 12).
      out += '[';
      out += std::to_string(s.index);
      out += ']';
    } else if (is_identifier(s.key)) {
      out += ".";
      out += s.key;
    } else {
      out += '[';
      out += quoted_key(s.key);
      out += ']';
    }
  }
  return out;
}

void install(lua_State* L) {
  // The array mark. `__metatable` hides it from getmetatable and makes
  // setmetatable refuse to replace it, so a script can neither change nor
  // reach this table, which every evaluation in the state shares.
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "array");
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &array_mt_key);
}

void push_null(lua_State* L) { lua_pushlightuserdata(L, const_cast<char*>(&null_sentinel)); }

void push_array_mark(lua_State* L) { lua_rawgetp(L, LUA_REGISTRYINDEX, &array_mt_key); }

void push(lua_State* L, const flows::value& v, int max_depth, std::string_view depth_name,
          const path_step& at, std::string& error) {
  pusher p{L, max_depth, depth_name, error};
  p.push(v, 0, at);
}

std::string to_value(lua_State* L, int idx, flows::value& out, const path_step& at,
                     const out_limits& limits) {
  converter c{L, limits, 0, {}};
  int top = lua_gettop(L);
  idx = lua_absindex(L, idx);
  if (!c.convert(idx, out, 0, at)) {
    lua_settop(L, top);
    return c.error.empty() ? path_text(at) + ": cannot become JSON" : c.error;
  }
  return {};
}

bool valid_utf8(std::string_view s, std::size_t& bad_at) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  std::size_t n = s.size(), i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    unsigned min, cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, min = 0x80, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, min = 0x800, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, min = 0x10000, cp = c & 0x07;
    } else {
      bad_at = i;
      return false;
    }
    if (i + len > n) {
      bad_at = i;
      return false;
    }
    for (std::size_t j = 1; j < len; ++j) {
      unsigned cc = p[i + j];
      if ((cc & 0xC0) != 0x80) {
        bad_at = i;
        return false;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      bad_at = i;
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace weft::components::lua_bridge
