#include "components/lua_sandbox.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <limits>

#include <lua.hpp>

#include "components/lua_value.hpp"

namespace weft::components {

struct lua_script::impl {
  std::uint64_t id;      // unique for the process: the key of per-state caches
  std::string name;      // the chunk name, as errors show it
  std::string bytecode;  // lua_dump of the compiled chunk, with line info
};

const std::string& lua_script::name() const {
  static const std::string none;
  return impl_ ? impl_->name : none;
}

namespace {

namespace bridge = lua_bridge;

// Registry keys (their addresses).
const char env_mt_key = 0;
const char cache_key = 0;

// A state's counters. The allocator and the count hook reach it through the
// allocator's user data, so both work on any state without a global.
struct accounting {
  std::size_t used = 0;
  std::size_t limit = std::numeric_limits<std::size_t>::max();
  std::size_t grown = 0;  // bytes allocated since the evaluation began
  bool refused = false;   // the allocator said no because of `limit`
  std::int64_t budget = 0;
  std::int64_t executed = 0;
  int step = 1000;
  bool over_budget = false;
};

// Lua's allocator contract: free on nsize 0, and never fail a shrink. Only
// growth counts against the limit, so freeing always works.
void* counting_alloc(void* ud, void* ptr, std::size_t osize, std::size_t nsize) {
  auto* a = static_cast<accounting*>(ud);
  if (ptr == nullptr) osize = 0;  // then osize is a type tag, not a size
  if (nsize == 0) {
    std::free(ptr);
    a->used -= osize;
    return nullptr;
  }
  if (nsize > osize) {
    std::size_t more = nsize - osize;
    if (a->used > a->limit || more > a->limit - a->used) {
      a->refused = true;
      return nullptr;  // Lua collects garbage and retries, then raises LUA_ERRMEM
    }
    a->grown += more;
  }
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) return nullptr;
  a->used = a->used - osize + nsize;
  return p;
}

accounting& accounting_of(lua_State* L) {
  void* ud = nullptr;
  lua_getallocf(L, &ud);
  return *static_cast<accounting*>(ud);
}

// Fires every `step` instructions. Once over, it fires on every instruction,
// so a script's pcall cannot swallow the error and carry on.
void count_hook(lua_State* L, lua_Debug*) {
  accounting& a = accounting_of(L);
  a.executed += a.step;
  if (!a.over_budget && a.executed + static_cast<std::int64_t>(a.grown >> 10) <= a.budget) return;
  a.over_budget = true;
  if (a.step != 1) {
    a.step = 1;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 1);
  }
  luaL_error(L, "instruction budget exceeded");
}

int readonly_newindex(lua_State* L) {
  return luaL_error(L, "the standard library tables are read-only");
}

// setmetatable without __gc: a finalizer would run at some later collection,
// inside another evaluation (or none), spending its budget.
int safe_setmetatable(lua_State* L) {
  int t = lua_type(L, 2);
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_argexpected(L, t == LUA_TNIL || t == LUA_TTABLE, 2, "nil or table");
  if (luaL_getmetafield(L, 1, "__metatable") != LUA_TNIL)
    return luaL_error(L, "cannot change a protected metatable");
  if (t == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "__gc metamethods are not allowed in the sandbox");
  }
  lua_settop(L, 2);
  lua_setmetatable(L, 1);
  return 1;
}

// array([t]): marks t (or a new table) as a JSON array, so that an empty one
// becomes [] rather than {}.
int make_array(lua_State* L) {
  if (lua_isnoneornil(L, 1)) {
    lua_settop(L, 0);
    lua_newtable(L);
  } else {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    if (lua_getmetatable(L, 1)) {
      bridge::push_array_mark(L);
      bool same = lua_rawequal(L, -1, -2);
      lua_pop(L, 2);
      if (same) return 1;
      return luaL_error(L, "array(): the table already has a metatable");
    }
  }
  bridge::push_array_mark(L);
  lua_setmetatable(L, 1);
  return 1;
}

// Builds the sandbox in a fresh state: the frozen base, read-only library
// proxies, the metatable of every evaluation's _ENV, the chunk cache.
int init_state(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
  const int g = lua_gettop(L);
  lua_createtable(L, 0, 32);
  const int base = lua_gettop(L);
  for (const char* name :
       {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget",
        "rawlen", "rawset", "select", "tonumber", "tostring", "type", "xpcall", "_VERSION"}) {
    lua_getfield(L, g, name);
    lua_setfield(L, base, name);
  }
  lua_pushcfunction(L, safe_setmetatable);
  lua_setfield(L, base, "setmetatable");
  lua_pushcfunction(L, make_array);
  lua_setfield(L, base, "array");
  bridge::push_null(L);
  lua_setfield(L, base, "null");

  struct lib {
    const char* name;
    lua_CFunction open;
  };
  for (lib l : {lib{LUA_STRLIBNAME, luaopen_string}, lib{LUA_TABLIBNAME, luaopen_table},
                lib{LUA_MATHLIBNAME, luaopen_math}, lib{LUA_UTF8LIBNAME, luaopen_utf8}}) {
    luaL_requiref(L, l.name, l.open, 0);
    const int t = lua_gettop(L);
    if (l.open == luaopen_math) {
      // Seeding would let one evaluation decide another's random numbers.
      lua_pushnil(L);
      lua_setfield(L, t, "randomseed");
    }
    // A userdata, not a table: rawset cannot write into it, pairs cannot
    // walk it, and its metatable is hidden.
    lua_newuserdatauv(L, 0, 0);
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, t);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, readonly_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, base, l.name);
    lua_settop(L, base);
  }
  // Strings index the real string table through their metatable: hide it.
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1)) {
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
  }
  lua_settop(L, base);

  lua_createtable(L, 0, 2);
  lua_pushvalue(L, base);
  lua_setfield(L, -2, "__index");
  lua_pushboolean(L, 0);
  lua_setfield(L, -2, "__metatable");
  lua_rawsetp(L, LUA_REGISTRYINDEX, &env_mt_key);
  lua_newtable(L);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
  bridge::install(L);
  return 0;
}

// One per thread that evaluates; never shared, so it needs no lock.
struct thread_state {
  accounting acct;
  lua_State* L = nullptr;
  std::size_t baseline = 0;  // bytes held between evaluations, after a collection
  int cached = 0;            // chunks in the cache table
  bool busy = false;

  static constexpr int max_cached = 256;
  static constexpr std::size_t garbage_slack = 1u << 20;

  bool open() {
    L = lua_newstate(counting_alloc, &acct);
    if (!L) return false;
    lua_pushcfunction(L, init_state);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
      close();
      return false;
    }
    lua_gc(L, LUA_GCCOLLECT);
    baseline = acct.used;
    return true;
  }
  void close() {
    if (L) lua_close(L);
    L = nullptr;
    cached = 0;
  }
  ~thread_state() { close(); }
};

thread_local std::unique_ptr<thread_state> tls;

enum class shape { value, truth, outputs };

struct job {
  thread_state* ts;
  const lua_script::impl* script;
  std::span<const lua_binding> globals;
  const lua_limits* limits;
  int max_depth;
  std::string input_error;
};

// Runs protected: everything here may allocate, and so raise.
int run_job(lua_State* L) {
  job& j = *static_cast<job*>(lua_touserdata(L, 1));
  lua_settop(L, 0);
  if (j.ts->cached >= thread_state::max_cached) {
    // Scripts of flows long unloaded must not pile up: start over.
    lua_newtable(L);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &cache_key);
    j.ts->cached = 0;
  }
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);  // 1
  const auto id = static_cast<lua_Integer>(j.script->id);
  if (lua_rawgeti(L, 1, id) != LUA_TFUNCTION) {  // 2
    lua_pop(L, 1);
    const std::string& bc = j.script->bytecode;
    // Our own bytecode, from compile(): source text never takes this path.
    if (luaL_loadbufferx(L, bc.data(), bc.size(), j.script->name.c_str(), "b") != LUA_OK)
      return lua_error(L);
    lua_pushvalue(L, 2);
    lua_rawseti(L, 1, id);
    ++j.ts->cached;
  }
  // Loading the chunk is not the evaluation's doing, and happens only on a
  // thread's first evaluation of it: the limit starts counting here, so
  // that whether a script fits does not depend on which thread runs it.
  accounting& a = j.ts->acct;
  const std::size_t room = std::numeric_limits<std::size_t>::max() - a.used;
  a.limit = a.used + std::min(j.limits->memory_bytes, room);
  // A fresh _ENV: globals the script sets die with it.
  lua_createtable(L, 0, static_cast<int>(j.globals.size()) + 1);  // 3
  lua_rawgetp(L, LUA_REGISTRYINDEX, &env_mt_key);
  lua_setmetatable(L, 3);
  for (const lua_binding& b : j.globals) {
    lua_pushlstring(L, b.name.data(), b.name.size());
    if (b.value) {
      bridge::path_step root{nullptr, b.name, 0};
      bridge::push(L, *b.value, j.max_depth, j.limits->depth_name, root, j.input_error);
      lua_rawset(L, 3);
      continue;
    }
    lua_createtable(L, 0, b.fields ? static_cast<int>(b.fields->size()) : 0);
    if (b.fields) {
      bridge::path_step root{nullptr, b.name, 0};
      for (const auto& [k, v] : *b.fields) {
        lua_pushlstring(L, k.data(), k.size());
        bridge::path_step step{&root, k, 0};
        bridge::push(L, v, j.max_depth, j.limits->depth_name, step, j.input_error);
        lua_rawset(L, -3);
      }
    }
    lua_rawset(L, 3);
  }
  lua_pushliteral(L, "_G");
  lua_pushvalue(L, 3);
  lua_rawset(L, 3);
  lua_setupvalue(L, 2, 1);  // the chunk's only upvalue is _ENV; pops the env

  a.grown = 0;  // inputs are not the script's doing
  lua_sethook(L, count_hook, LUA_MASKCOUNT, a.step);
  lua_call(L, 0, 1);
  lua_sethook(L, nullptr, 0, 0);
  return 1;
}

std::string format_bytes(std::size_t n) {
  if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
  if (n >= 1024 && n % 1024 == 0) return std::to_string(n >> 10) + " KiB";
  return std::to_string(n) + " bytes";
}

std::string error_text(lua_State* L, int status, const accounting& a, const job& j) {
  const lua_limits& lim = *j.limits;
  if (a.over_budget)
    return "lua: instruction budget of " + std::to_string(lim.instructions) + " exceeded (" +
           lim.instructions_name + ")";
  if (!j.input_error.empty()) return j.input_error;
  std::string msg;
  switch (lua_type(L, -1)) {
    case LUA_TSTRING: {
      std::size_t n = 0;
      const char* s = lua_tolstring(L, -1, &n);
      msg.assign(s, n);
      break;
    }
    case LUA_TNUMBER:  // formatted here: lua_tolstring would allocate in Lua
      msg = lua_isinteger(L, -1) ? std::to_string(lua_tointeger(L, -1))
                                 : std::to_string(lua_tonumber(L, -1));
      break;
    case LUA_TNIL:
      msg = "error called with nil";
      break;
    default:
      msg = std::string{"error object is a "} + luaL_typename(L, -1) + " value";
  }
  if (status == LUA_ERRMEM || (a.refused && msg == "not enough memory"))
    return "lua: memory limit of " + format_bytes(lim.memory_bytes) + " exceeded (" +
           lim.memory_name + ")";
  // Error messages may quote script strings: keep them valid UTF-8.
  std::size_t bad = 0;
  if (!bridge::valid_utf8(msg, bad))
    msg = flows::value(msg).dump(-1, ' ', false, flows::value::error_handler_t::replace);
  return "lua: " + msg;
}

// The outputs of a `lua` node from the result on top of the stack.
std::string outputs_of(lua_State* L, const std::vector<std::string>& outputs,
                       const bridge::out_limits& ol, flows::value& out) {
  out = flows::value::object();
  bridge::path_step root{nullptr, "outputs", 0};
  auto known = [&](std::string_view k) {
    return std::find(outputs.begin(), outputs.end(), k) != outputs.end();
  };
  auto listed = [&] {
    std::string s;
    for (auto& o : outputs) s += (s.empty() ? "" : ", ") + o;
    return s;
  };
  const int res = lua_gettop(L);
  if (lua_type(L, res) != LUA_TTABLE) {
    if (!known("value"))
      return std::string{"the script returned a "} + luaL_typename(L, res) +
             ", not a table of outputs (outputs: " + listed() + ")";
    bridge::path_step step{&root, "value", 0};
    flows::value v;
    if (auto e = bridge::to_value(L, res, v, step, ol); !e.empty()) return e;
    out["value"] = std::move(v);
  } else {
    lua_pushnil(L);
    while (lua_next(L, res) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        std::string what = luaL_typename(L, -2);
        lua_settop(L, res);
        return "outputs: the result table has a " + what +
               " key; return a table of outputs by name (outputs: " + listed() +
               "), e.g. {value = t} to output a table";
      }
      std::size_t n = 0;
      const char* k = lua_tolstring(L, -2, &n);
      std::string_view key{k, n};
      if (!known(key)) {
        std::string shown = bridge::path_text(bridge::path_step{&root, key, 0});
        lua_settop(L, res);
        return shown + ": not an output (outputs: " + listed() + ")";
      }
      bridge::path_step step{&root, key, 0};
      flows::value v;
      if (auto e = bridge::to_value(L, -1, v, step, ol); !e.empty()) {
        lua_settop(L, res);
        return e;
      }
      out[std::string{key}] = std::move(v);
      lua_pop(L, 1);
    }
  }
  for (const auto& o : outputs)
    if (!out.contains(o)) out[o] = nullptr;  // left out: null
  return {};
}

struct outcome {
  std::string error;
  flows::value value;
  bool truth = false;
};

outcome run(const lua_script::impl* script, std::span<const lua_binding> globals,
            const lua_limits& limits, shape how, const std::vector<std::string>* outputs) {
  outcome r;
  if (!script) {
    r.error = "lua: no compiled script";
    return r;
  }
  if (!tls) tls = std::make_unique<thread_state>();
  thread_state& ts = *tls;
  if (ts.busy) {  // nothing evaluates from inside an evaluation; be sure
    r.error = "lua: nested evaluation on one thread";
    return r;
  }
  if (!ts.L && !ts.open()) {
    r.error = "lua: cannot create a Lua state (out of memory)";
    return r;
  }
  ts.busy = true;
  lua_State* L = ts.L;
  accounting& a = ts.acct;

  const std::int64_t budget = std::max<std::int64_t>(limits.instructions, 1);
  a.budget = budget;
  a.executed = 0;
  a.step = static_cast<int>(std::min<std::int64_t>(budget, 1000));
  a.over_budget = false;
  a.refused = false;
  a.grown = 0;
  a.limit = std::numeric_limits<std::size_t>::max();  // set in run_job

  job j{&ts, script, globals, &limits, std::clamp(limits.max_depth, 1, bridge::max_depth_cap), {}};
  lua_settop(L, 0);
  lua_pushcfunction(L, run_job);
  lua_pushlightuserdata(L, &j);
  const int status = lua_pcall(L, 1, 1, 0);
  lua_sethook(L, nullptr, 0, 0);
  a.limit = std::numeric_limits<std::size_t>::max();

  if (status != LUA_OK) {
    r.error = error_text(L, status, a, j);
  } else if (how == shape::truth) {
    r.truth = lua_toboolean(L, -1) != 0;
  } else {
    bridge::out_limits ol{j.max_depth, limits.memory_bytes, limits.depth_name, limits.memory_name};
    std::string e;
    if (how == shape::value) {
      bridge::path_step root{nullptr, "result", 0};
      e = bridge::to_value(L, -1, r.value, root, ol);
    } else {
      e = outputs_of(L, *outputs, ol, r.value);
    }
    if (!e.empty()) r.error = "lua: " + e;
  }
  lua_settop(L, 0);

  // Let go of this evaluation's _ENV (and the inputs in it) now, not at the
  // next evaluation of the same script.
  lua_rawgetp(L, LUA_REGISTRYINDEX, &cache_key);
  if (lua_rawgeti(L, -1, static_cast<lua_Integer>(script->id)) == LUA_TFUNCTION) {
    lua_pushnil(L);
    lua_setupvalue(L, -2, 1);
  }
  lua_settop(L, 0);

  if (status != LUA_OK && status != LUA_ERRRUN && status != LUA_ERRMEM) {
    ts.close();  // an error in the error handler: start again from nothing
  } else if (a.used > ts.baseline + thread_state::garbage_slack) {
    // Keeps the next evaluation's limit honest: it is counted from here.
    lua_gc(L, LUA_GCCOLLECT);
    ts.baseline = a.used;
  }
  ts.busy = false;
  return r;
}

int dump_writer(lua_State*, const void* p, std::size_t n, void* ud) {
  try {
    static_cast<std::string*>(ud)->append(static_cast<const char*>(p), n);
    return 0;
  } catch (const std::exception&) {
    return 1;
  }
}

std::atomic<std::uint64_t> next_script_id{1};

}  // namespace

lua_compiled lua_sandbox::compile(std::string_view source, std::string_view name) {
  lua_compiled out;
  accounting a;
  a.limit = 256u << 20;  // the parser's own memory, for a huge source
  std::unique_ptr<lua_State, void (*)(lua_State*)> L{lua_newstate(counting_alloc, &a), lua_close};
  if (!L) {
    out.error = "cannot create a Lua state (out of memory)";
    return out;
  }
  const std::string chunk = "=" + std::string{name};
  // Mode "t": text only; a binary chunk in a flow file is refused.
  int st = luaL_loadbufferx(L.get(), source.data(), source.size(), chunk.c_str(), "t");
  if (st != LUA_OK) {
    std::string msg =
        lua_type(L.get(), -1) == LUA_TSTRING ? lua_tostring(L.get(), -1) : "cannot compile";
    if (st == LUA_ERRMEM) msg = "the script is too large to compile";
    // "NAME:LINE: message"
    const std::string prefix = std::string{name} + ":";
    if (msg.rfind(prefix, 0) == 0) {
      std::size_t i = prefix.size(), line = 0;
      while (i < msg.size() && msg[i] >= '0' && msg[i] <= '9' && line < 100'000'000)
        line = line * 10 + static_cast<std::size_t>(msg[i++] - '0');
      if (i > prefix.size() && i < msg.size() && msg[i] == ':') {
        out.error_line = static_cast<int>(line);
        msg = msg.substr(i + 1);
        if (!msg.empty() && msg[0] == ' ') msg.erase(0, 1);
      }
    }
    std::size_t bad = 0;
    if (!bridge::valid_utf8(msg, bad))
      msg = flows::value(msg).dump(-1, ' ', false, flows::value::error_handler_t::replace);
    out.error = msg.empty() ? "syntax error" : msg;
    return out;
  }
  auto impl = std::make_shared<lua_script::impl>();
  impl->id = next_script_id.fetch_add(1, std::memory_order_relaxed);
  impl->name = chunk;
  if (lua_dump(L.get(), dump_writer, &impl->bytecode, 0) != 0) {
    out.error = "cannot store the compiled script";
    return out;
  }
  out.script.impl_ = std::move(impl);
  return out;
}

lua_compiled lua_sandbox::compile_expression(std::string_view expression, std::string_view name) {
  // On the same line, so Lua's line numbers are the expression's.
  std::string src = "return ";
  src += expression;
  return compile(src, name);
}

lua_value_result lua_sandbox::evaluate(const lua_script& s, std::span<const lua_binding> globals,
                                       const lua_limits& limits) {
  auto o = run(s.impl_.get(), globals, limits, shape::value, nullptr);
  return {std::move(o.value), std::move(o.error)};
}

lua_truth_result lua_sandbox::test(const lua_script& s, std::span<const lua_binding> globals,
                                   const lua_limits& limits) {
  auto o = run(s.impl_.get(), globals, limits, shape::truth, nullptr);
  return {o.truth, std::move(o.error)};
}

lua_value_result lua_sandbox::evaluate_outputs(const lua_script& s,
                                               std::span<const lua_binding> globals,
                                               const lua_limits& limits,
                                               const std::vector<std::string>& outputs) {
  auto o = run(s.impl_.get(), globals, limits, shape::outputs, &outputs);
  return {std::move(o.value), std::move(o.error)};
}

}  // namespace weft::components
