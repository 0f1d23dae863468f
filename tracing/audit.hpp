// Trace audits: do the spans of a set of top-level runs form one correct
// trace each?
//
// Used by `weft load` on its own runs and by the concurrency tests. A
// top-level run's trace holds its own spans and those of every child run
// below it (sub-flows, map items, loop iterations, at any depth). For every
// expected run it checks, on the spans themselves:
//   - the trace exists and has exactly one root: a span with no parent, or
//     with the caller's span as parent when the run got a traceparent; the
//     root is the top-level run's own span;
//   - every other span's parent is a span of the same trace, and every span
//     hangs from the root (no parent cycle);
//   - every span belongs to this top-level run: its weft.root_run.id (or,
//     on spans written before child runs existed, its weft.run.id) is the
//     run's id, so no span of another top-level run mixed in;
//   - a span stays in its parent's run (same weft.run.id) unless it is the
//     root of a child run (it has weft.parent_run.id); such a root hangs
//     from a node span (weft.node.id) of exactly that parent run, and has a
//     run id of its own that no other child run's root claims;
//   - the expected session.id and user.id are on every span;
//   - span ids are unique, and the span count is exact (when given).
//
// The checks are local to a span and its parent, plus one walk from the
// root with an explicit queue: traces can be deep and come from files, so
// nothing recurses over spans.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

struct audit_expectation {
  trace_id trace;
  span_id remote_parent;          // invalid: the root must have no parent
  std::string run_id;             // the top-level run's id; empty: the root's
  std::string session_id;         // empty: must be absent
  std::string user_id;            // empty: must be absent
  std::size_t expected_spans = 0; // 0: not checked (runs with branches or child runs)
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
