// The component interface: what a node type is and how it runs.
//
// A component type is described once (its sockets and params, for
// validation) and instantiated once per node of a loaded flow. That instance
// is shared by every concurrent run of the flow, so `start` is const and must
// be thread-safe; per-execution state lives in the node_context.
//
// `start` is asynchronous: it must eventually call exactly one of
// `ctx.complete(...)` or `ctx.fail(...)`, now or later (for instance from a
// callback given to `ctx.after`). It must never block a scheduler thread: a
// component that has to block (file or socket I/O without a callback API)
// sets `blocking = true` in its descriptor, and the engine runs it on a
// thread of its own.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "flows/diagnostic.hpp"
#include "flows/spec.hpp"
#include "flows/value.hpp"

namespace weft::flows {

/// What a running node can do. Implemented by the engine's node actor.
class node_context {
 public:
  virtual ~node_context() = default;

  virtual std::string_view node_id() const = 0;
  /// Finishes the node with these outputs (one entry per output socket).
  virtual void complete(value_map outputs) = 0;
  /// Finishes the node with an error; its span records `message`.
  virtual void fail(std::string message) = 0;
  /// Calls `fn` on this node's actor after `delay`, without blocking a thread.
  /// Nothing runs if the node was stopped (timeout, cancel) before then.
  virtual void after(std::chrono::milliseconds delay, std::function<void()> fn) = 0;
  /// Adds an attribute to the node's span (a no-op for unsampled runs).
  virtual void set_attribute(std::string key, std::string value) = 0;
};

class component {
 public:
  virtual ~component() = default;
  virtual void start(node_context& ctx, value_map inputs) const = 0;
};

/// A convenience base for components that compute their outputs at once.
/// Exceptions thrown by `run` fail the node with their message.
class sync_component : public component {
 public:
  virtual value_map run(const value_map& inputs) const = 0;
  void start(node_context& ctx, value_map inputs) const final;
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
  /// diagnostics located at `node.loc` and returning nullptr.
  std::function<std::shared_ptr<const component>(const node_spec& node, diagnostics& errs)> make;
};

}  // namespace weft::flows
