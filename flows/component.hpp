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
#include <optional>
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

/// Implemented, beside weft::component, by components whose output sockets
/// are known only once built (a sub-flow's declared outputs).
class declares_outputs {
 public:
  virtual ~declares_outputs() = default;
  virtual const std::vector<std::string>& output_names() const = 0;
};

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
                                                 const component_services& svc, diagnostics& errs)>
      make;
  // Set after construction (the fields above are what most types fill in
  // one brace list):
  /// A node of this type may leave some of its output sockets unproduced on
  /// purpose (a router's untaken routes): those sockets are skipped, and the
  /// skip propagates downstream. For other types a missing output is an
  /// error of the run.
  bool conditional_outputs = false;
  /// A node of this type starts child runs (node_context::run_child): its
  /// runs' span trees are not of a fixed shape.
  bool runs_children = false;
  /// A node of this type opens spans of its own, under its node span (one
  /// CLIENT span per HTTP attempt, say): retries vary their number, so its
  /// runs' span trees are not of a fixed shape either.
  bool opens_spans = false;
  /// The output sockets of one node when they depend on its params (a
  /// router's routes): the parser checks edges against these instead of
  /// `outputs`. Returning nullopt means "known only once built" (a sub-flow's
  /// outputs): the component then implements flows::declares_outputs and
  /// compile() checks the edges.
  std::function<std::optional<std::vector<std::string>>(const node_spec& node)> outputs_of =
      nullptr;
};

}  // namespace weft::flows
