// How the engine knows a component type: its descriptor (sockets, params,
// how to build an instance for one node). The component interface itself,
// what a node does when it runs, is public: include/weft/component.hpp.
//
// A component type is described once (its sockets and params, for
// validation) and instantiated once per node of a loaded flow. That instance
// is shared by every concurrent run of the flow, so `start` is const and must
// be thread-safe; per-execution state lives in the node_context.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "flows/diagnostic.hpp"
#include "flows/services.hpp"
#include "flows/spec.hpp"
#include "flows/value.hpp"
#include "weft/component.hpp"

namespace weft::flows {

// The SDK's types, under the names the engine uses.
using weft::component;
using weft::node_context;
using weft::sync_component;

struct socket_spec {
  std::string name;
  bool required = true;
  bool variadic = false;  // accepts a list of sources; its value is an array
};

struct param_spec {
  std::string name;
  value_type type = value_type::any;
  bool required = false;
};

/// Everything the engine needs to know about a component type.
struct component_descriptor {
  std::string type;
  std::string summary;
  std::vector<socket_spec> inputs;
  /// When true, a node may declare input sockets of any name (`template`).
  bool open_inputs = false;
  std::vector<std::string> outputs;
  std::vector<param_spec> params;
  /// Runs on its own thread instead of the shared scheduler.
  bool blocking = false;
  /// Builds the instance for one node. It may reject params beyond the
  /// declared types (a template that does not parse, say) by adding
  /// diagnostics located at `node.loc` and returning nullptr. `svc` is the
  /// loading engine's (flows/services.hpp); it lives only during the call.
  std::function<std::shared_ptr<const component>(const node_spec& node,
                                                 const component_services& svc,
                                                 diagnostics& errs)>
      make;
};

}  // namespace weft::flows
