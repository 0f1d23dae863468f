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
//   - span ids are unique, and the span count is exact (when given), or at
//     least the minimum (when given).
//
// The checks are local to a span and its parent, plus one walk from the
// root with an explicit queue: traces can be deep and come from files, so
// nothing recurses over spans.
//
// Memory. trace_auditor takes spans one at a time, as a file is read, and
// keeps no span_record: for each span of an expected trace it keeps a
// compact record (its id, its parent's id, and its name and the run ids,
// session and user as indices into a per-trace table of the distinct
// strings of that trace), about 48 bytes a span. Spans of other traces cost
// nothing. A trace with an expected span count is audited as soon as that
// many of its spans have arrived, and its records are dropped: for such runs
// (fixed-shape flows, as `weft load` runs them) memory is bounded by the
// traces that are still incomplete at a point of the file, not by the file.
// A trace without a count is audited at finish(), so its records stay until
// then: memory grows with the spans of those traces (not with their
// attributes, and not with the rest of the file). The expectations
// themselves are kept for every run.
//
// What an early audit cannot see: a span that arrives after its trace was
// audited (the count was reached) is still counted (the trace then reports
// "N spans, expected M" at finish()) and its session.id, user.id and
// top-level run are still checked, but it takes no part in the checks that
// need the other spans (parent in the trace, unique id, cycles).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

struct audit_expectation {
  trace_id trace;
  span_id remote_parent;           // invalid: the root must have no parent
  std::string run_id;              // the top-level run's id; empty: the root's
  std::string session_id;          // empty: must be absent
  std::string user_id;             // empty: must be absent
  std::size_t expected_spans = 0;  // 0: not checked (runs with branches or child runs)
  /// At least this many spans, when the exact count is unknown: a run
  /// dispatched to a worker has its front's span and the worker's run span
  /// at least, whatever paths it took. 0: not checked.
  std::size_t min_spans = 0;
};

struct audit_report {
  std::size_t traces = 0;  // expected traces found
  std::size_t spans = 0;   // spans in those traces
  std::size_t problem_count = 0;
  std::vector<std::string> problems;  // the first max_problems, described
  static constexpr std::size_t max_problems = 50;

  bool ok() const { return problem_count == 0; }
};

/// The streaming audit: add() every span (any order, other traces ignored),
/// then finish() once. Problems within one trace come in the order the
/// checks above list them; traces come in the order they were audited.
class trace_auditor {
 public:
  /// With `audit_early` false every trace is audited at finish(), with all
  /// its spans (what audit_traces() does: the spans are in memory anyway).
  explicit trace_auditor(std::vector<audit_expectation> runs, bool audit_early = true);
  ~trace_auditor();
  trace_auditor(const trace_auditor&) = delete;
  trace_auditor& operator=(const trace_auditor&) = delete;

  void add(const span_record& span);
  /// Audits the traces not audited yet and returns the report. Call once.
  audit_report finish();

  /// Compact span records held now, and at most so far.
  std::size_t spans_held() const;
  std::size_t peak_spans_held() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Audits `spans` (any order, other traces ignored) against `runs`, each
/// trace with all its spans (no early audit).
audit_report audit_traces(const std::vector<span_record>& spans,
                          const std::vector<audit_expectation>& runs);

}  // namespace weft::tracing
