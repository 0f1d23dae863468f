// What weft's own layers (serve, cli, tests, benches) reach inside an
// engine beyond the public API: the component registry with its internal
// descriptors, and the actor system. Not installed; embedders use
// engine::add_component and weft/caf.hpp instead. It also brings the
// internal headers that the public engine.hpp leaves out (plans, settings
// loaders, the exporter), which weft's own layers use beside the engine.
#pragma once

#include <caf/all.hpp>

#include "cluster/wire.hpp"
#include "config/settings.hpp"
#include "export/exporter.hpp"
#include "flows/plan.hpp"
#include "flows/registry.hpp"
#include "flows/value.hpp"
#include "weft/component.hpp"
#include "weft/engine.hpp"
#include "weft/events.hpp"

namespace weft {

struct engine_internals {
  /// The registry flows load against; add built-in-style descriptors here.
  static flows::registry& components(engine& e);
  static caf::actor_system& system(engine& e);
  /// Runs what a front sent this worker (`weft worker`): in the front's
  /// trace, under its run id, within what is left of its budget. `done` is
  /// called once with the end; the function returned cancels the run.
  /// `on_event`, when set, gets each event's JSON (run_event::to_json)
  /// before `done`, on the thread that then calls `done`.
  static std::function<void(std::string)> run_for_front(
      engine& e, const flow& f, cluster::run_request req, std::function<void(std::string)> on_event,
      std::function<void(cluster::run_reply)> done);
  /// Runs one placed node a front sent this worker (its placement tags
  /// brought it here) as a remote child of the front's run: in the front's
  /// trace, under its run span. The same contract as run_for_front;
  /// `on_event` gets what the node emits and its child runs' events
  /// (actors/placed_node.hpp, node_host_job::on_event).
  static std::function<void(std::string)> run_node_for_front(
      engine& e, const flow& f, cluster::node_request req,
      std::function<void(std::string)> on_event, std::function<void(cluster::run_reply)> done);
};

}  // namespace weft
