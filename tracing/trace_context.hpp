// The trace context that every message of a run carries.
//
// weft never looks up "the current span": whoever creates a span takes the
// context from the message or node context in hand, and passes a derived
// context (same trace, itself as parent) to the actors it spawns. That makes a
// span's parent follow actor supervision, and keeps concurrent runs apart.
#pragma once

#include <string>

#include "tracing/ids.hpp"

namespace weft::tracing {

struct trace_context {
  trace_id trace;
  /// The span that new spans created from this context are children of.
  /// Invalid (zero) only for a run's root span when no traceparent came in.
  span_id parent;
  bool sampled = true;
  /// The caller's W3C tracestate, normalised (see parse_tracestate); empty
  /// when none came in. Vendor data for the caller's trace, so it goes on
  /// every span of the run unchanged.
  std::string trace_state;
  std::string session_id;
  std::string user_id;

  /// The context for children of span `s`: same trace, same ids, parent `s`.
  trace_context child_of(span_id s) const {
    trace_context c = *this;
    c.parent = s;
    return c;
  }
};

}  // namespace weft::tracing
