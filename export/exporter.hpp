// The exporter actor: one per engine, it receives every finished span in a
// message (a run sends its spans together as they finish), batches them by
// count and by time, and hands each batch to every configured sink.
//
// Each sink has a worker actor (export/sink_worker.hpp: the one interface
// the exporter sees of a sink), detached because sinks do blocking disk I/O
// and a scheduler thread must never block. A run never
// waits for the exporter: spans are fire-and-forget messages, and a slow sink
// shows up in the queue and spool figures of the stats, not in run latency.
//
// Protocol (each worker's is the same, with span_batch -> uint64, the spans
// it took in, instead of the first line):
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

#include "export/messages.hpp"
#include "export/sink_worker.hpp"
#include "weft/log.hpp"
#include "weft/stats.hpp"

namespace weft {

// CAF serialises the counters in replies to stats requests; found by ADL.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exporter_stats& x) {
  return f(caf::meta::type_name("exporter_stats"), x.spans_received, x.sinks);
}

}  // namespace weft

namespace weft::exporting {

// The public counters (weft/stats.hpp), under the names the exporter uses.
using weft::exporter_stats;

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
/// The exporter's protocol (above), as a type: the compiler checks every
/// message sent to it. tick_atom is its own batch timer.
using exporter_actor =
    caf::typed_actor<caf::reacts_to<std::vector<tracing::span_record>>,
                     caf::replies_to<flush_atom, std::int64_t>::with<bool>,
                     caf::replies_to<stats_atom>::with<exporter_stats>, caf::reacts_to<tick_atom>>;

exporter_actor spawn_exporter(caf::actor_system& sys, std::vector<sink_worker> workers,
                              exporter_config cfg);

}  // namespace weft::exporting
