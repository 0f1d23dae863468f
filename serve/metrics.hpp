// Prometheus metrics for `weft serve`: what the HTTP server counts while it
// serves runs, and the body of GET /metrics (text exposition format 0.0.4).
//
// Series:
//   weft_runs_total{flow,status}           counter    status: ok, failed, timeout, rejected
//   weft_run_duration_seconds{flow}        histogram  runs that started (ok, failed, timeout)
//   weft_runs_inflight                     gauge      runs started, not yet finished
//   weft_http_requests_total{code}         counter    responses sent, by status code
//   weft_spans_exported_total{sink}        counter    from the exporter_stats snapshot
//   weft_spans_dropped_total{sink,reason}  counter    that the caller takes at scrape
//   weft_spans_spooled_total{sink}         counter    time and passes to render()
//   weft_export_queue_spans{sink}          gauge      (these seven)
//   weft_spool_bytes{sink}                 gauge
//   weft_spool_records_damaged_total{sink} counter    damaged spool records skipped
//   weft_spool_bytes_quarantined{sink}     gauge      bytes of *.damaged segments kept
//
// "rejected" means the server refused a run before it started: backpressure
// (503, too many runs in flight) or bad inputs (400). A rejected run never
// ran, so it has no duration and never counts as in flight.
//
// Cardinality. Every label value comes from a bounded set: the flows
// registered at start, the four statuses, the status codes 100..599 (anything
// else is counted as code="other"), and the exporter's sinks and drop
// reasons. A flow that was not registered (an unknown name in a request URL)
// is not recorded per flow, because otherwise any client could create series
// without bound; such requests still show in weft_http_requests_total.
//
// Threading. The server records from many scheduler threads at once, so
// recording is lock-free: every figure is a relaxed atomic, and each flow's
// series live in one block created by register_flow() and found in a map
// that nothing changes once serving starts. Hence the one rule: call
// register_flow() for every flow before any other member may run
// concurrently. render() may run at any time, concurrently with recording;
// it reads each figure once, so a histogram's +Inf bucket always equals its
// _count, though _sum may already include a run that the buckets do not.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "weft/stats.hpp"

namespace weft::serve {

/// How a run that started ended (a refused run is metrics::run_rejected).
enum class run_status { ok, failed, timeout };

class metrics {
 public:
  /// Upper bounds (seconds) of weft_run_duration_seconds' buckets, below +Inf.
  static constexpr std::array<double, 15> duration_buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  metrics();
  ~metrics();
  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;

  /// Creates the flow's series, all at 0, so that a scrape shows the flow
  /// before its first run. Idempotent. Not thread-safe: call it for every
  /// flow before serving starts (see "Threading" above).
  void register_flow(std::string_view flow);

  /// A run started: weft_runs_inflight + 1.
  void run_started();
  /// A run that started has ended: weft_runs_inflight - 1, and for a
  /// registered flow weft_runs_total{status} + 1 and one observation of
  /// `seconds`. A negative or NaN duration (a clock bug) counts as 0.
  void run_finished(std::string_view flow, run_status status, double seconds);
  /// A run was refused before it started (503 or 400):
  /// weft_runs_total{status="rejected"} + 1 for a registered flow.
  void run_rejected(std::string_view flow);
  /// An HTTP response was sent with this status code.
  void http_request(int code);

  /// weft_runs_inflight now.
  std::int64_t inflight() const;

  /// The whole /metrics body (Content-Type: text/plain; version=0.0.4).
  /// Every sink in `exporter` gets its exported, spooled, queue and spool
  /// series, even at 0, and one dropped series per reason in its map (a
  /// reason the exporter holds at 0 shows as 0). Sinks that share a name are
  /// summed, so the body never holds the same series twice.
  std::string render(const exporter_stats& exporter) const;

 private:
  struct flow_series;

  flow_series* find(std::string_view flow) const;

  // unique_ptr keeps each block at one address (and on its own cache lines)
  // while the map is built; std::less<> finds a string_view without copying.
  std::map<std::string, std::unique_ptr<flow_series>, std::less<>> flows_;
  alignas(64) std::atomic<std::int64_t> inflight_{0};
  // One slot per code 100..599: 4 KB buys lock-free counting of any real
  // code, where a mutex-protected map would serialise every response.
  alignas(64) std::array<std::atomic<std::uint64_t>, 500> http_codes_{};
  std::atomic<std::uint64_t> http_other_{0};
};

}  // namespace weft::serve
