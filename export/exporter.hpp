// The exporter actor: one per engine, it receives every finished span in a
// message (a run sends its spans together as they finish), batches them by
// count and by time, and hands each batch to every configured sink.
//
// Each sink has a worker actor (see http_sink.hpp), detached because sinks
// do blocking disk I/O and a scheduler thread must never block. A run never
// waits for the exporter: spans are fire-and-forget messages, and a slow sink
// shows up in the queue and spool figures of the stats, not in run latency.
//
// Protocol (the exporter's, and each worker's with span_batch -> uint64
// (the spans it took in) instead):
//   vector<span_record>         -> (none)         add finished spans
//   flush_atom, deadline_ms     -> bool           deliver everything received so
//                                                 far; what is still undelivered
//                                                 at the deadline is spooled
//                                                 (true: nothing was left over)
//   stats_atom                  -> exporter_stats the counters below
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "tracing/sink.hpp"
#include "weft/log.hpp"

namespace weft::exporting {

/// Counters for one sink, kept by its worker.
struct sink_stats {
  std::string name;
  std::uint64_t received = 0;       // spans handed to this sink
  std::uint64_t exported = 0;       // spans the backend (or file) accepted
  std::uint64_t retried = 0;        // spans in attempts that will be retried
  std::uint64_t spooled = 0;        // spans written to the disk spool
  std::uint64_t replayed = 0;       // spooled spans delivered later
  std::uint64_t failed_batches = 0; // attempts that failed (any reason)
  std::uint64_t dead_lettered_batches = 0;  // batches rejected for good
  std::map<std::string, std::uint64_t> dropped;  // spans given up on, by reason
  std::uint64_t queued = 0;         // spans in memory, not yet delivered
  std::uint64_t spool_bytes = 0;    // current size of the spool on disk
  std::uint64_t spool_records_damaged = 0;    // damaged spool records skipped on replay
  std::uint64_t spool_bytes_quarantined = 0;  // bytes of *.damaged segments kept on disk
};

struct exporter_stats {
  std::uint64_t spans_received = 0;
  std::vector<sink_stats> sinks;

  std::uint64_t total_dropped() const;
  /// Multi-line human summary ("sink file: received 10, exported 10, ...").
  std::string to_string() const;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sink_stats& x) {
  return f(caf::meta::type_name("sink_stats"), x.name, x.received, x.exported, x.retried,
           x.spooled, x.replayed, x.failed_batches, x.dead_lettered_batches, x.dropped, x.queued,
           x.spool_bytes, x.spool_records_damaged, x.spool_bytes_quarantined);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exporter_stats& x) {
  return f(caf::meta::type_name("exporter_stats"), x.spans_received, x.sinks);
}

struct exporter_config {
  std::int64_t batch_max_spans = 512;
  /// A batch also goes out once its spans' estimated encoded size reaches
  /// this, so large spans (content tracing) do not make huge requests.
  std::int64_t batch_max_bytes = 3 << 20;
  std::int64_t batch_delay_ms = 1000;
  /// Spans handed to one sink worker and not yet taken in by it. A worker
  /// that falls this far behind (a disk slower than the runs) gets no more
  /// batches until it catches up; those spans are counted as dropped with
  /// reason "queue_full", so memory stays bounded whatever the load.
  std::int64_t max_outstanding_spans = 65536;
  /// Where the exporter's messages go (engine_options::log, masked).
  log_fn log = log_to_stderr;
};

/// Spawns the exporter over its sink workers (possibly none: spans are then
/// counted as received and discarded, which is what "tracing off" means).
caf::actor spawn_exporter(caf::actor_system& sys, std::vector<caf::actor> workers,
                          exporter_config cfg);

}  // namespace weft::exporting
