// What a component factory gets besides its node's spec: the services of the
// engine that is loading the flow.
//
// A factory runs once per node, at load time. It may read the engine's
// settings (its limits), ask the environment the loader used (the same one
// `${NAME}` substitution saw), and, for composites that run other flows,
// resolve those flows through the catalog. It must not keep a reference to
// the services object itself: it lives only as long as the load.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "config/settings.hpp"

namespace weft::flows {

/// Looks up an environment variable for `${NAME}` in params; nullopt if unset.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

/// The process environment (getenv).
env_lookup process_env();

class flow_catalog;  // flows/catalog.hpp: other flows, for composites

struct component_services {
  /// The loading engine's settings (defaults when loading without one, as
  /// `weft validate` does).
  config::engine_settings settings;
  /// Values may nest this deep (engine_options::max_value_depth): what a
  /// component parses or computes deeper is an error, never a deep value.
  std::size_t max_value_depth = 64;
  /// The environment the loader substitutes `${NAME}` from.
  env_lookup env = process_env();
  /// Resolves flow references (`flow: ./child.yaml`, a flow name, an inline
  /// flow). Null when the loader has no catalog: composites then reject
  /// their params with an error that says so.
  flow_catalog* catalog = nullptr;
  /// Registers a value the node holds that must never be shown (an API key
  /// the component read from the environment itself, or one written into
  /// the flow): every run of the flow masks it wherever it turns up, as it
  /// does what `${NAME}` substituted. Set by compile(); may be empty
  /// elsewhere, so call it through add_secret_value().
  std::function<void(const std::string&)> add_secret;
  void add_secret_value(const std::string& v) const {
    if (add_secret) add_secret(v);
  }
  /// Tells the loader the content hash of a flow the node runs (a
  /// sub-flow, a map or loop body, an agent's tool): the parent's hash then
  /// covers its children's, so that a front and a worker that agree on a
  /// flow's hash agree on its whole tree. Set by compile(); may be empty.
  std::function<void(const std::string&)> add_child_hash;
};

}  // namespace weft::flows
