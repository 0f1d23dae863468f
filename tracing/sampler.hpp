// Head sampling: decide once, when a run's root span starts, whether the run
// is traced. The decision travels in trace_context::sampled to every span of
// the run, so a run is traced completely or not at all.
#pragma once

#include <optional>

#include "tracing/ids.hpp"

namespace weft::tracing {

/// Deterministic ratio sampling, like OpenTelemetry's TraceIdRatioBased: the
/// last 8 bytes of the trace id, read as a big-endian uint64, are compared
/// against ratio * 2^64. The same trace id always gets the same answer, so
/// every process that sees a trace agrees without talking to each other.
/// ratio <= 0 (or NaN) never samples; ratio >= 1 always does.
bool sample_decision(const trace_id& trace, double ratio) noexcept;

/// Parent-based sampling. When a traceparent came in, `parent_sampled` holds
/// its sampled flag and that decision wins: the caller upstream already chose,
/// and overriding it would leave holes in its trace. Without a parent the
/// ratio decides via sample_decision.
bool should_sample(std::optional<bool> parent_sampled, const trace_id& trace,
                   double ratio) noexcept;

}  // namespace weft::tracing
