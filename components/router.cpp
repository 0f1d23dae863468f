// The `router` node type: sends its input `value` down the first route whose
// Lua condition holds, and nothing down the others.
//
//   route:
//     type: router
//     params:
//       routes:                         # tried in file order
//         urgent: "inputs.score > 0.8"
//         normal: "inputs.score > 0.2"
//       default: low                    # optional: taken when none matched
//     inputs: {value: $inputs.ticket, score: classify.score}
//
// Each route name (and the default) is an output socket. Only the taken one
// is produced; the others are skipped, and the run skips what depends on
// them (actors/run_actor.cpp has the rules). The conditions see every input
// as `inputs`; they are compiled at load, so a syntax error is a validation
// error at the condition's line.
#include <algorithm>
#include <set>

#include "components/lua_sandbox.hpp"
#include "components/register.hpp"
#include "flows/names.hpp"

namespace weft::components {
namespace {

using namespace flows;

struct route {
  std::string name;
  lua_script condition;
};

class router_component final : public component {
 public:
  router_component(std::vector<route> routes, std::string fallback, lua_limits limits)
      : routes_(std::move(routes)), default_(std::move(fallback)), limits_(limits) {}

  void start(node_context& ctx, value_map inputs) const override {
    lua_binding in{"inputs", &inputs};
    for (const auto& r : routes_) {
      auto t = lua_sandbox::test(r.condition, {&in, 1}, limits_);
      if (!t.ok()) {
        ctx.fail("router: route '" + r.name + "': " + t.error, "router.condition");
        return;
      }
      if (t.value) return take(ctx, r.name, inputs);
    }
    if (!default_.empty()) return take(ctx, default_, inputs);
    std::string names;
    for (const auto& r : routes_) names += (names.empty() ? "" : ", ") + r.name;
    ctx.fail("router: no route matched (routes: " + names + "; no default)", "router.no_route");
  }

 private:
  void take(node_context& ctx, const std::string& name, value_map& inputs) const {
    ctx.set_attribute("weft.router.route", name);
    value_map out;
    out.emplace(name, std::move(inputs.at("value")));
    ctx.complete(std::move(out));
  }

  std::vector<route> routes_;
  std::string default_;
  lua_limits limits_;
};

// The routes in file order: the params' JSON object is sorted by key, so
// the order comes from where each entry was written.
std::vector<std::string> route_names(const node_spec& n) {
  std::vector<std::pair<source_loc, std::string>> placed;
  auto r = n.params.find("routes");
  if (r == n.params.end() || !r->is_object()) return {};
  for (auto& [k, v] : r->items()) {
    source_loc at{};
    if (auto l = n.param_locs.find("routes." + k); l != n.param_locs.end()) at = l->second.value;
    placed.emplace_back(at, k);
  }
  std::stable_sort(placed.begin(), placed.end(), [](auto& a, auto& b) {
    return std::tie(a.first.line, a.first.col) < std::tie(b.first.line, b.first.col);
  });
  std::vector<std::string> out;
  out.reserve(placed.size());
  for (auto& p : placed) out.push_back(p.second);
  return out;
}

std::optional<std::vector<std::string>> outputs_of(const node_spec& n) {
  auto out = route_names(n);
  if (auto d = n.params.find("default"); d != n.params.end() && d->is_string())
    if (std::find(out.begin(), out.end(), d->get<std::string>()) == out.end())
      out.push_back(d->get<std::string>());
  return out;
}

source_loc where(const node_spec& n, const std::string& key) {
  auto l = n.param_locs.find(key);
  return l == n.param_locs.end() ? n.loc : l->second.value;
}

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  const auto before = errs.size();
  auto error = [&](const std::string& key, std::string msg) {
    errs.push_back({where(n, key), "node '" + n.id + "': " + std::move(msg)});
  };
  auto r = n.params.find("routes");
  if (r == n.params.end() || !r->is_object() || r->empty()) {
    error("routes", "param 'routes' must map at least one route name to a Lua condition");
    return nullptr;
  }
  std::vector<route> routes;
  for (const auto& name : route_names(n)) {
    const std::string key = "routes." + name;
    if (!is_identifier(name) || name == "value") {
      error(key, "route '" + name +
                     "' is not a usable socket name ([A-Za-z_][A-Za-z0-9_]*, not 'value')");
      continue;
    }
    const value& cond = (*r)[name];
    if (!cond.is_string()) {
      error(key, "route '" + name + "': the condition must be a Lua expression (a string), got " +
                     std::string(cond.type_name()));
      continue;
    }
    auto c = lua_sandbox::compile_expression(cond.get<std::string>(), "routes." + name);
    if (!c.ok()) {
      error(key, "route '" + name + "': Lua syntax error: " + c.error);
      continue;
    }
    routes.push_back({name, std::move(c.script)});
  }
  std::string fallback;
  if (auto d = n.params.find("default"); d != n.params.end()) {
    if (!d->is_string() || !is_identifier(d->get<std::string>()) || *d == "value")
      error("default", "param 'default' must name the socket taken when no route matches");
    else fallback = d->get<std::string>();
  }
  if (errs.size() != before) return nullptr;
  lua_limits limits;
  limits.max_depth = static_cast<int>(std::min<std::size_t>(svc.max_value_depth, 256));
  return std::make_shared<router_component>(std::move(routes), std::move(fallback), limits);
}

}  // namespace

void register_router(flows::registry& reg) {
  component_descriptor d;
  d.type = "router";
  d.summary =
      "Sends `value` down the first route whose Lua condition holds; the others are skipped.";
  d.inputs = {{"value", true, false}};
  d.open_inputs = true;
  d.params = {{"routes", value_type::object, true}, {"default", value_type::string, false}};
  d.make = make;
  d.conditional_outputs = true;
  d.outputs_of = outputs_of;
  reg.add(std::move(d));
}

}  // namespace weft::components
