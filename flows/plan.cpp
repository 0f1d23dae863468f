#include "flows/plan.hpp"

#include <algorithm>
#include <map>

#include "flows/env_subst.hpp"
#include "flows/parser.hpp"

namespace weft::flows {

std::shared_ptr<const plan> compile(flow_spec spec, const registry& components, diagnostics& errs,
                                    const component_services& svc,
                                    const std::vector<std::string>& env_values) {
  auto p = std::make_shared<plan>();
  std::map<std::string, int, std::less<>> index;
  for (std::size_t i = 0; i < spec.nodes.size(); ++i) index[spec.nodes[i].id] = static_cast<int>(i);

  auto resolve = [&](const source_ref& s) {
    return s.from_flow_input ? plan_source{-1, s.socket} : plan_source{index.at(s.node), s.socket};
  };

  // What the factories register as secret (a key they read from the
  // environment themselves) joins what `${NAME}` substitution put in.
  std::vector<std::string> secret_values = env_values;
  component_services node_svc = svc;
  node_svc.add_secret = [&secret_values](const std::string& v) { secret_values.push_back(v); };
  std::vector<std::string> child_hashes;  // in node order: a reordering is another flow
  node_svc.add_child_hash = [&child_hashes](const std::string& h) { child_hashes.push_back(h); };

  const auto errors_before = errs.size();
  p->nodes.resize(spec.nodes.size());
  for (std::size_t i = 0; i < spec.nodes.size(); ++i) {
    const node_spec& n = spec.nodes[i];
    plan_node& pn = p->nodes[i];
    const component_descriptor* d = components.find(n.type);
    if (!d) {  // validated already; a registry changed in between is a caller bug
      errs.push_back({n.loc, "node '" + n.id + "': unknown component type '" + n.type + "'"});
      continue;
    }
    pn.id = n.id;
    pn.type = n.type;
    pn.blocking = d->blocking;
    pn.conditional_outputs = d->conditional_outputs;
    if (d->conditional_outputs || d->runs_children || d->opens_spans) p->fixed_shape = false;
    pn.timeout_ms = n.timeout_ms.value_or(0);
    pn.placement_tags = n.placement_tags;
    if (!pn.placement_tags.empty()) p->placed = true;
    pn.impl = d->make(n, node_svc, errs);
    if (!pn.impl) {
      if (errs.size() == errors_before)
        errs.push_back(
            {n.loc, "node '" + n.id + "': component '" + n.type + "' rejected its params"});
      continue;
    }
    std::vector<int> ups;
    for (const socket_binding& b : n.inputs) {
      plan_input in{b.socket, b.list, {}, true};
      for (const socket_spec& s : d->inputs)
        if (s.name == b.socket) in.required = s.required;
      for (const source_ref& s : b.sources) {
        in.sources.push_back(resolve(s));
        if (!s.from_flow_input) ups.push_back(index.at(s.node));
      }
      pn.inputs.push_back(std::move(in));
    }
    std::sort(ups.begin(), ups.end());
    ups.erase(std::unique(ups.begin(), ups.end()), ups.end());
    pn.upstream_count = static_cast<int>(ups.size());
    for (int u : ups) p->nodes[u].downstream.push_back(static_cast<int>(i));
  }
  if (errs.size() != errors_before) return nullptr;

  // Edges from nodes whose outputs were known only once built (a sub-flow's
  // declared outputs): the parser let them through, so check them here.
  auto check_ref = [&](const source_ref& s, const std::string& what) {
    if (s.from_flow_input) return;
    const plan_node& from = p->nodes[static_cast<std::size_t>(index.at(s.node))];
    auto* declared = dynamic_cast<const declares_outputs*>(from.impl.get());
    if (!declared) return;
    const auto& names = declared->output_names();
    if (std::find(names.begin(), names.end(), s.socket) != names.end()) return;
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    errs.push_back(
        {s.loc, what + "node '" + s.node + "' (type " + from.type + ") has no output '" + s.socket +
                    "'" + (list.empty() ? "; it has no outputs" : "; its outputs are: " + list)});
  };
  for (const node_spec& n : spec.nodes)
    for (const socket_binding& b : n.inputs)
      for (const source_ref& s : b.sources)
        check_ref(s, "node '" + n.id + "', input '" + b.socket + "': ");
  for (const output_decl& o : spec.outputs) check_ref(o.source, "output '" + o.name + "': ");
  if (errs.size() != errors_before) return nullptr;

  for (std::size_t i = 0; i < p->nodes.size(); ++i)
    if (p->nodes[i].upstream_count == 0) p->entry_nodes.push_back(static_cast<int>(i));
  for (const output_decl& o : spec.outputs) p->outputs.push_back({o.name, resolve(o.source)});
  p->spec = std::move(spec);
  if (!child_hashes.empty()) {
    // The file's own hash, then its children's: a child flow edited on one
    // machine only changes the hash of every flow that runs it.
    std::string all = p->spec.content_hash;
    for (const auto& h : child_hashes) all += "\n" + h;
    p->spec.content_hash = content_hash(all);
  }
  if (!secret_values.empty()) {
    auto secrets = std::make_shared<tracing::secret_set>();
    for (const auto& v : secret_values) secrets->add(v);
    if (!secrets->empty()) p->env_secrets = std::move(secrets);
  }
  return p;
}

std::shared_ptr<const plan> load_flow_file(const std::string& path, const registry& components,
                                           diagnostics& errs, const component_services& svc) {
  std::vector<std::string> env_values;
  auto spec = parse_flow_file(path, components, errs, recording_env(svc.env, env_values));
  if (!spec) return nullptr;
  return compile(std::move(*spec), components, errs, svc, env_values);
}

std::shared_ptr<const plan> load_flow_file(const std::string& path, const registry& components,
                                           diagnostics& errs, const env_lookup& env) {
  component_services svc;
  svc.env = env;
  return load_flow_file(path, components, errs, svc);
}

std::shared_ptr<const plan> load_flow_text(std::string_view text, const std::string& name,
                                           const registry& components, diagnostics& errs,
                                           const component_services& svc) {
  std::vector<std::string> env_values;
  auto spec = parse_flow(text, name, components, errs, recording_env(svc.env, env_values));
  if (!spec) return nullptr;
  return compile(std::move(*spec), components, errs, svc, env_values);
}

std::shared_ptr<const plan> load_flow_text(std::string_view text, const std::string& name,
                                           const registry& components, diagnostics& errs,
                                           const env_lookup& env) {
  component_services svc;
  svc.env = env;
  return load_flow_text(text, name, components, errs, svc);
}

}  // namespace weft::flows
