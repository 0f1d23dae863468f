// The context every actor of one run reads: the plan, the run's identity,
// its settings and where its spans go. Created by the run actor, handed to each node
// actor it spawns, and never mutated afterwards, so no locking is needed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "actors/component_http.hpp"
#include "cluster/dispatcher.hpp"
#include "export/exporter.hpp"
#include "flows/plan.hpp"
#include "tracing/redaction.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

/// The token usage of a top-level run and all its child runs, and the
/// engine's hook for every model call (engine_options::on_llm_call).
struct llm_tally {
  std::atomic<std::int64_t> input{0};
  std::atomic<std::int64_t> output{0};
  const std::function<void(const llm_call_record&)>* on_call = nullptr;  // the engine's, or null
};

struct run_context {
  std::shared_ptr<const flows::plan> plan;
  std::string run_id;
  /// The top-level run's id: the same as run_id, except in child runs
  /// (sub-flows, map items, loop iterations), which carry it on every span
  /// as weft.root_run.id (a top-level run's spans leave it out: it is
  /// their weft.run.id).
  std::string root_run_id;
  /// How deep this run nests: 0 for a top-level run, its parent's + 1 for a
  /// child run (bounded by max_run_depth).
  int depth = 0;
  bool content = false;  // record inputs and outputs on spans
  bool sampled = true;
  /// The run has an observer (run_options::on_event): nodes report their
  /// start and their chunks to the run actor. Without one nothing is sent.
  bool observed = false;
  /// Node outputs may nest this deep (engine_options::max_value_depth); a
  /// component that builds a deeper value fails its node instead.
  std::size_t max_value_depth = 64;
  exporting::exporter_actor exporter;
  /// The engine's client for node_context::http (null: requests fail).
  std::shared_ptr<component_http> http;
  /// Shared by a top-level run and every child run under it.
  std::shared_ptr<llm_tally> llm;
  std::string session_id;
  std::string user_id;
  /// The values this run must never show: the flow's ${ENV} param values
  /// and its inputs under secret keys (null when there are none). Every text
  /// that leaves the run goes through mask() or content_attribute().
  std::shared_ptr<const tracing::secret_set> secrets;
  /// Where nodes with placement tags go (engine_options::workers): the
  /// engine's dispatcher while it lives, expired without one.
  std::weak_ptr<cluster::dispatcher> placer;

  /// `text` with the run's secrets masked (as is when there are none).
  std::string mask(std::string text) const {
    if (secrets) secrets->mask_in_place(text);
    return text;
  }
  /// The JSON text of `values` for a span attribute, with secrets masked by
  /// key and by value.
  std::string content_attribute(const flows::value_map& values) const;

  /// A new span from `ctx` (its trace and tracestate, `ctx.parent` as
  /// parent) with the attributes every span of a run carries.
  tracing::span_record open_span(const tracing::trace_context& ctx, std::string name) const;
  /// Ends `s` now (sets its end time).
  static void close_span(tracing::span_record& s);
};

/// A new run id: a random UUID v4 (top-level and child runs alike).
std::string new_run_id();

/// Runs nest at most this many levels, the top-level run included (DESIGN:
/// nesting depth 16, as flows::max_flow_nesting checks at load); a
/// composite that would go deeper fails its node.
inline constexpr int max_run_depth = 16;

}  // namespace weft::actors
