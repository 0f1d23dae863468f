// What every actor of one run shares, read-only: the plan, the run's
// identity and where spans go. Created by the run actor, handed to each node
// actor it spawns, and never mutated afterwards, so no locking is needed.
#pragma once

#include <memory>
#include <string>

#include <caf/all.hpp>

#include "flows/plan.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

struct run_shared {
  std::shared_ptr<const flows::plan> plan;
  std::string run_id;
  bool content = false;  // record inputs and outputs on spans
  bool sampled = true;
  caf::actor exporter;
  std::string session_id;
  std::string user_id;

  /// A new span from `ctx` (its trace and tracestate, `ctx.parent` as
  /// parent) with the attributes every span of a run carries.
  tracing::span_record open_span(const tracing::trace_context& ctx, std::string name) const;
  /// Ends `s` now (sets its end time).
  static void close_span(tracing::span_record& s);
};

/// The JSON text of `values` for a span attribute, with secrets masked.
std::string content_attribute(const flows::value_map& values);

}  // namespace weft::actors
