// The run actor: the supervisor of one run and the owner of its root span.
//
// It spawns one node actor per node as soon as all of that node's inputs
// have arrived (so independent branches run in parallel), routes outputs
// downstream, collects the run outputs and reports exactly once through the
// job's callback. A failing node fails the run and cancels the rest; the
// run-level timeout cancels every node. Other runs are never affected.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <caf/all.hpp>

#include "actors/engine_internals.hpp"
#include "actors/messages.hpp"
#include "cluster/dispatcher.hpp"
#include "flows/plan.hpp"
#include "tracing/redaction.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

class component_http;
struct llm_tally;  // actors/run_context.hpp

struct run_job {
  std::shared_ptr<const flows::plan> plan;
  flows::value_map inputs;     // validated, defaults applied
  tracing::trace_context ctx;  // parent: the remote span, or invalid
  std::string run_id;
  std::int64_t timeout_ms = 0;  // 0: none
  bool content = false;
  std::size_t max_value_depth = 64;  // engine_options::max_value_depth
  exporting::exporter_actor exporter;
  std::shared_ptr<component_http> http;       // the engine's, for node_context::http
  std::shared_ptr<llm_tally> llm;             // the top-level run's (child runs share it)
  std::weak_ptr<cluster::dispatcher> placer;  // for placed nodes (run_context::placer)
  std::string warning;                        // passed through to the result
  std::function<void(run_result)> done;
  /// The caller's observer (run_options::on_event), or empty.
  std::function<void(const run_event&)> on_event;
  /// Called after `done`, once every node actor of the run has ended and sent
  /// its span: from then on the run holds no actor and no span in flight.
  std::function<void()> released;

  // A child run (node_context::run_child) also has:
  std::string root_run_id;    // the top-level run's id (empty: this is it)
  std::string parent_run_id;  // the run of the composite node that started it
  int depth = 0;              // the parent run's depth + 1
  /// Extra attributes of the run span (weft.map.index, weft.loop.iteration).
  std::vector<std::pair<std::string, tracing::attribute_value>> span_attributes;
  /// The parent run's secrets, masked in this run too.
  std::shared_ptr<const tracing::secret_set> parent_secrets;
};

/// Spawns the run actor, idle until it receives start_atom: the caller can
/// record the handle (for cancelling) before the run can possibly end.
run_actor spawn_run(caf::actor_system& sys, std::shared_ptr<run_job> job);

}  // namespace weft::actors
