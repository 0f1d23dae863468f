#include "components/child_flow.hpp"

namespace weft::components {

using namespace flows;

source_loc param_at(const node_spec& n, const std::string& key) {
  auto l = n.param_locs.find(key);
  return l == n.param_locs.end() ? n.loc : l->second.value;
}

std::shared_ptr<const plan> child_flow(const node_spec& n, const component_services& svc,
                                       diagnostics& errs) {
  auto p = n.params.find("flow");
  if (p == n.params.end()) {
    errs.push_back({n.loc, "node '" + n.id +
                               "': param 'flow' is required: a path (./child.yaml), "
                               "a flow name, or an inline flow"});
    return nullptr;
  }
  return flow_ref(n, *p, param_at(n, "flow"), "param 'flow'", svc, errs);
}

std::shared_ptr<const plan> flow_ref(const node_spec& n, const value& ref, const source_loc& at,
                                     const std::string& what, const component_services& svc,
                                     diagnostics& errs) {
  if (!svc.catalog) {
    errs.push_back({at, "node '" + n.id + "': this loader cannot load other flows (no catalog)"});
    return nullptr;
  }
  const auto before = errs.size();
  std::shared_ptr<const plan> child;
  if (ref.is_string()) child = svc.catalog->resolve(ref.get<std::string>(), at, errs);
  else if (ref.is_object()) child = svc.catalog->resolve_inline(ref, n.id, at, errs);
  else
    errs.push_back({at, "node '" + n.id + "': " + what +
                            " must be a path, a flow name or an "
                            "inline flow (a mapping), got " +
                            std::string(ref.type_name())});
  if (!child && errs.size() == before)
    errs.push_back({at, "node '" + n.id + "': the flow did not load"});
  if (child && svc.add_child_hash) svc.add_child_hash(child->spec.content_hash);
  return child;
}

bool check_child_inputs(const node_spec& n, const plan& child, const std::set<std::string>& own,
                        const std::set<std::string>& provided, diagnostics& errs) {
  bool ok = true;
  std::string declared;
  for (const auto& d : child.spec.inputs) declared += (declared.empty() ? "" : ", ") + d.name;
  if (declared.empty()) declared = "(none)";
  std::set<std::string> bound;
  for (const auto& b : n.inputs) {
    bound.insert(b.socket);
    if (own.count(b.socket)) continue;
    if (provided.count(b.socket)) {
      errs.push_back(
          {b.loc, "node '" + n.id + "': input '" + b.socket +
                      "' is set by the node itself for each child run; do not connect it"});
      ok = false;
    } else if (!child.spec.find_input(b.socket)) {
      errs.push_back({b.loc, "node '" + n.id + "': input '" + b.socket +
                                 "' is not an input of flow '" + child.name() +
                                 "'; its inputs are: " + declared});
      ok = false;
    }
  }
  for (const auto& d : child.spec.inputs) {
    if (d.default_value || bound.count(d.name) || provided.count(d.name)) continue;
    errs.push_back({n.loc, "node '" + n.id + "': flow '" + child.name() + "' needs input '" +
                               d.name + "', which is not connected"});
    ok = false;
  }
  return ok;
}

std::int64_t int_param(const node_spec& n, const std::string& key, std::int64_t fallback,
                       std::int64_t lo, std::int64_t hi, diagnostics& errs, bool& ok) {
  auto p = n.params.find(key);
  if (p == n.params.end()) return fallback;
  if (!p->is_number_integer() || p->get<std::int64_t>() < lo || p->get<std::int64_t>() > hi) {
    errs.push_back({param_at(n, key), "node '" + n.id + "': param '" + key +
                                          "' must be an integer from " + std::to_string(lo) +
                                          " to " + std::to_string(hi) + ", got " + p->dump()});
    ok = false;
    return fallback;
  }
  return p->get<std::int64_t>();
}

}  // namespace weft::components
