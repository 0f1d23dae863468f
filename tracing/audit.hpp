// Trace audits: do the spans of a set of runs form one correct trace each?
//
// Used by `weft load` on its own runs and by the concurrency tests. For every
// expected run it checks, on the spans themselves:
//   - the trace exists and has exactly one root: a span with no parent, or
//     with the caller's span as parent when the run got a traceparent;
//   - every other span's parent is a span of the same trace;
//   - every span carries the same weft.run.id as the root (no span of
//     another run mixed in), and the expected session.id and user.id;
//   - span ids are unique, and the span count is as expected (when given).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

struct audit_expectation {
  trace_id trace;
  span_id remote_parent;          // invalid: the root must have no parent
  std::string run_id;             // empty: not checked
  std::string session_id;         // empty: must be absent
  std::string user_id;            // empty: must be absent
  std::size_t expected_spans = 0; // 0: not checked
};

struct audit_report {
  std::size_t traces = 0;    // expected traces found
  std::size_t spans = 0;     // spans in those traces
  std::size_t problem_count = 0;
  std::vector<std::string> problems;  // the first max_problems, described
  static constexpr std::size_t max_problems = 50;

  bool ok() const { return problem_count == 0; }
};

/// Audits `spans` (any order, other traces ignored) against `runs`.
audit_report audit_traces(const std::vector<span_record>& spans,
                          const std::vector<audit_expectation>& runs);

}  // namespace weft::tracing
