// The `lua` node type: a script over the node's inputs, compiled at load.
//
//   calc:
//     type: lua
//     params:
//       outputs: [total, label]
//       script: |
//         local t = 0
//         for _, x in ipairs(inputs.items) do t = t + x end
//         return {total = t, label = "n=" .. #inputs.items}
//     inputs: {items: $inputs.items}
#include <cstdint>
#include <set>

#include "components/lua_sandbox.hpp"
#include "components/lua_value.hpp"
#include "components/register.hpp"
#include "flows/names.hpp"

namespace weft::components {
namespace {

class lua_component final : public flows::component {
 public:
  lua_component(lua_script script, std::vector<std::string> outputs, lua_limits limits)
      : script_(std::move(script)), outputs_(std::move(outputs)), limits_(limits) {}

  void start(flows::node_context& ctx, flows::value_map inputs) const override {
    const lua_binding in{"inputs", &inputs};
    auto r = lua_sandbox::evaluate_outputs(script_, {&in, 1}, limits_, outputs_);
    if (!r.ok()) {
      ctx.fail(std::move(r.error));
      return;
    }
    flows::value_map out;
    for (auto& [k, v] : r.value.items()) out.emplace(k, std::move(v));
    ctx.complete(std::move(out));
  }

 private:
  lua_script script_;
  std::vector<std::string> outputs_;
  lua_limits limits_;
};

struct param_reader {
  const flows::node_spec& n;
  flows::diagnostics& errs;
  bool ok = true;

  flows::source_loc where(std::string_view param) const {
    auto i = n.param_locs.find(param);
    return i == n.param_locs.end() ? n.loc : i->second.value;
  }
  void error(std::string_view param, std::string msg) {
    errs.push_back({where(param),
                    "node '" + n.id + "': param '" + std::string{param} + "' " + std::move(msg)});
    ok = false;
  }
  // An integer param within [lo, hi], or its default.
  template <class T>
  T integer(const char* name, T fallback, std::int64_t lo, std::int64_t hi) {
    auto i = n.params.find(name);
    if (i == n.params.end()) return fallback;
    // The parser checked the type; a value past int64 arrives unsigned.
    const bool fits =
        i->is_number_integer() && !(i->is_number_unsigned() && i->get<std::uint64_t>() > INT64_MAX);
    if (!fits || i->get<std::int64_t>() < lo || i->get<std::int64_t>() > hi) {
      error(name, "must be an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                      ", got " + i->dump());
      return fallback;
    }
    return static_cast<T>(i->get<std::int64_t>());
  }
};

std::shared_ptr<const flows::component> make(const flows::node_spec& n,
                                             const flows::component_services& svc,
                                             flows::diagnostics& errs) {
  param_reader p{n, errs};
  lua_limits limits;
  // The engine's value depth is the default: a script may not build what
  // the rest of the engine would refuse as input.
  limits.max_depth = static_cast<int>(std::min<std::size_t>(
      svc.max_value_depth, static_cast<std::size_t>(lua_bridge::max_depth_cap)));
  // Upper bounds keep one evaluation's cost bounded (DESIGN invariant 8):
  // 100M instructions is on the order of a second on one core.
  limits.instructions = p.integer<std::int64_t>("budget", limits.instructions, 1, 100'000'000);
  limits.memory_bytes =
      p.integer<std::size_t>("memory_bytes", limits.memory_bytes, 64 * 1024, 1ll << 30);
  limits.max_depth = p.integer<int>("max_depth", limits.max_depth, 1, lua_bridge::max_depth_cap);

  std::vector<std::string> outputs{"value"};
  if (auto o = n.params.find("outputs"); o != n.params.end()) {
    outputs.clear();
    std::set<std::string> seen;
    if (!o->is_array() || o->empty() || o->size() > 64) {
      p.error("outputs", "must be a list of 1 to 64 output names");
    } else {
      for (const auto& x : *o) {
        if (!x.is_string() || !flows::is_identifier(x.get<std::string>())) {
          p.error("outputs", "has " +
                                 x.dump(-1, ' ', false, flows::value::error_handler_t::replace) +
                                 ", which is not an output name ([A-Za-z_][A-Za-z0-9_]*)");
        } else if (!seen.insert(x.get<std::string>()).second) {
          p.error("outputs", "names " + x.dump() + " twice");
        } else {
          outputs.push_back(x.get<std::string>());
        }
      }
    }
  }

  const std::string source = n.params.value("script", std::string{});
  auto c = lua_sandbox::compile(source, "params.script");
  if (!c.ok()) {
    flows::source_loc at = p.where("script");
    std::string where_in_script;
    auto pl = n.param_locs.find("script");
    if (pl != n.param_locs.end() && pl->second.text_line > 0 && c.error_line > 0) {
      // A literal block: the script's lines are the file's.
      at.line = pl->second.text_line + c.error_line - 1;
      at.col = pl->second.text_col;
    } else if (c.error_line > 0 && source.find('\n') != std::string::npos) {
      // Quoted or folded text: its lines are not the file's, so say which.
      where_in_script = " (line " + std::to_string(c.error_line) + " of the script)";
    }
    errs.push_back({at, "node '" + n.id + "': param 'script': Lua syntax error" + where_in_script +
                            ": " + c.error});
    p.ok = false;
  }
  if (!p.ok) return nullptr;
  return std::make_shared<lua_component>(std::move(c.script), std::move(outputs), limits);
}

}  // namespace

void register_lua(flows::registry& r) {
  using flows::value_type;
  flows::component_descriptor d;
  d.type = "lua";
  d.summary =
      "Runs a sandboxed Lua 5.4 script over its inputs (the table `inputs`); a table result "
      "gives the outputs by name, anything else the output `value`.";
  d.open_inputs = true;
  d.outputs = {"value"};  // the default; a node's params.outputs replaces it
  d.params = {{"script", value_type::string, true},
              {"outputs", value_type::array, false},
              {"budget", value_type::integer, false},
              {"memory_bytes", value_type::integer, false},
              {"max_depth", value_type::integer, false}};
  d.make = make;
  r.add(std::move(d));
}

}  // namespace weft::components
