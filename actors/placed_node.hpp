// Placement: a node that says `placement: {tags: [gpu]}` runs on a cluster
// worker with those tags, as a remote child of its run actor.
//
// Two ends:
// - At the front, the run actor spawns a placed-node actor where it would
//   spawn the node's own. It sends the node (flow name and hash, node id,
//   inputs, the run's trace context with the run span as parent, what is
//   left of the run's time) through the engine's dispatcher, and reports
//   node_finished to its run as a local node would. The node's span id is
//   chosen here, so that the run's events name it before the worker
//   answers, and a node that never got a worker still has its span, under
//   the run span, closed with the error ("no worker with tags [gpu]",
//   "worker lost: ...").
// - On the worker, a node host stands in for the run actor: it spawns the
//   node's actor (a composite's child runs then run there too), ships its
//   spans to the worker's own exporter and answers with the node's
//   outputs or error. When the front's run is observed, what the node
//   emits and its child runs' events come back before the answer, and the
//   stand-in hands them to its run actor as a local node would.
//
// The node's span is then the worker's, in the front's trace, under the
// front's run span: the trace reads as if the node had run locally.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/run_context.hpp"
#include "cluster/wire.hpp"
#include "flows/value.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

/// The front's stand-in for node `index` of a run, in place of spawn_node:
/// `ctx` is the run's context (the run span as parent), `time_left_ms`
/// what remains of the run's budget (0: none).
caf::actor spawn_placed_node(caf::local_actor* run, std::shared_ptr<const run_context> rs,
                             int index, flows::value_map inputs, tracing::trace_context ctx,
                             std::int64_t time_left_ms);

/// What a worker needs to run one placed node a front sent.
struct node_host_job {
  std::shared_ptr<const flows::plan> plan;  // the worker's own copy of the flow
  cluster::node_request req;
  bool tracing = true;  // the worker's engine_options::tracing
  std::size_t max_value_depth = 64;
  exporting::exporter_actor exporter;
  std::shared_ptr<component_http> http;
  std::shared_ptr<llm_tally> llm;  // the node's tokens, reported back
  /// Called once with the node's end, from a CAF thread.
  std::function<void(cluster::run_reply)> done;
  /// Set when the front's run is observed: gets what the node emits and
  /// its child runs' events, as {"kind": "chunk", "data"} and {"kind":
  /// "child", "event"} JSON, before `done`, on the thread that calls it.
  std::function<void(std::string)> on_event;
};

/// Starts the node on this worker. Returns its host, idle until it gets
/// start_atom (cancel_atom stops the node); or null when the request is
/// refused (no such node, bad trace context or inputs), `done` called
/// with why.
run_actor host_placed_node(caf::actor_system& sys, node_host_job job);

}  // namespace weft::actors
