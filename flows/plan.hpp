// The execution plan of a validated flow: nodes by index, their component
// instances, and which node feeds which.
//
// A plan is built once per loaded flow and shared, read-only, by every run of
// it; a run only keeps per-run counters next to it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "flows/component.hpp"
#include "flows/diagnostic.hpp"
#include "flows/parser.hpp"
#include "flows/registry.hpp"
#include "flows/spec.hpp"
#include "tracing/redaction.hpp"

namespace weft::flows {

/// Where a value comes from, resolved to indices.
struct plan_source {
  int node = -1;       // -1: a flow input
  std::string socket;  // the node's output socket, or the flow input's name
};

struct plan_input {
  std::string socket;
  bool list = false;  // variadic: the value is an array of the sources
  std::vector<plan_source> sources;
  /// A required input from a skipped source skips the node; an optional one
  /// is then absent. (Sockets of open-input types count as required.)
  bool required = true;
};

struct plan_node {
  std::string id;
  std::string type;
  std::shared_ptr<const component> impl;
  bool blocking = false;
  bool conditional_outputs = false;  // unproduced outputs are skipped, not errors
  std::int64_t timeout_ms = 0;       // 0: none
  /// The worker tags it must run on (node_spec::placement_tags); empty:
  /// it runs where its run does.
  std::vector<std::string> placement_tags;
  std::vector<plan_input> inputs;
  int upstream_count = 0;       // distinct nodes this node waits for
  std::vector<int> downstream;  // distinct nodes that wait for this one
};

struct plan_output {
  std::string name;
  plan_source source;
};

struct plan {
  flow_spec spec;
  std::vector<plan_node> nodes;
  std::vector<int> entry_nodes;  // nodes with no upstream node
  std::vector<plan_output> outputs;
  /// What `${NAME}` substitution put into the params (API keys, as often as
  /// not). Built once per loaded flow; every run of it masks these values in
  /// what leaves the run: span content and status, errors, logs.
  std::shared_ptr<const tracing::secret_set> env_secrets;
  /// Every run of it has the same span tree: one run span and one span per
  /// node, nothing skipped, no child runs and no spans opened by nodes (no
  /// node type with conditional outputs, child runs or spans of its own). `weft load` checks span counts
  /// only for these.
  bool fixed_shape = true;
  /// Some node has placement tags: a run of it stays at the front (its run
  /// actor supervises) and sends those nodes to tagged workers.
  bool placed = false;

  const std::string& name() const { return spec.name; }
};

/// Builds the plan for a validated spec, instantiating each node's component
/// with `svc`. Returns nullptr (with diagnostics) if a component rejects its
/// params. `env_values` are the values substituted into its params, for
/// env_secrets.
std::shared_ptr<const plan> compile(flow_spec spec, const registry& components, diagnostics& errs,
                                    const component_services& svc,
                                    const std::vector<std::string>& env_values = {});

/// parse_flow_file + compile, with `svc.env` for `${NAME}` and env_secrets
/// from what it gave.
std::shared_ptr<const plan> load_flow_file(const std::string& path, const registry& components,
                                           diagnostics& errs, const component_services& svc);
std::shared_ptr<const plan> load_flow_file(const std::string& path, const registry& components,
                                           diagnostics& errs,
                                           const env_lookup& env = process_env());

/// parse_flow + compile, with `svc.env` for `${NAME}` and env_secrets from
/// what it gave.
std::shared_ptr<const plan> load_flow_text(std::string_view text, const std::string& name,
                                           const registry& components, diagnostics& errs,
                                           const component_services& svc);
std::shared_ptr<const plan> load_flow_text(std::string_view text, const std::string& name,
                                           const registry& components, diagnostics& errs,
                                           const env_lookup& env = process_env());

}  // namespace weft::flows
