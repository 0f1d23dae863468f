// The node actor: runs one node of one run, then quits.
//
// It is spawned by its run actor with the run's trace context (whose parent
// is the run span), opens its node span as a child of it, starts the
// component, and reports node_finished back to the run actor. A node
// timeout (timeout_ms) or a cancel_atom from the run ends it early, with its
// span marked as an error.
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "actors/run_context.hpp"
#include "actors/run_secrets.hpp"
#include "flows/value.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

/// Spawns the actor for node `index` as a child of `run` (detached when the
/// component declares that it blocks). `span` is the node span's id when
/// someone chose it already (a placed node's front did); invalid: a new one.
caf::actor spawn_node(caf::local_actor* run, std::shared_ptr<const run_context> rs, int index,
                      flows::value_map inputs, tracing::trace_context ctx,
                      tracing::span_id span = {});

}  // namespace weft::actors
