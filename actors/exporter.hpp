// The exporter actor: one per engine, it receives every finished span in a
// message (a run sends its spans together as they finish), batches them by
// count and by time, and hands each batch to every configured sink.
//
// Each sink runs in a detached worker actor (a thread of its own), because
// sinks do blocking I/O and a scheduler thread must never block. A run never
// waits for the exporter: spans are fire-and-forget messages, and a slow sink
// shows up in the queue figures of the stats, not in run latency.
//
// Protocol:
//   vector<span_record>         -> (none)         add finished spans
//   flush_atom                  -> bool           write out everything received so far
//   stats_atom                  -> exporter_stats the counters below
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "tracing/sink.hpp"

namespace weft::actors {

/// Counters for one sink. Spans are counted once received by the exporter.
struct sink_stats {
  std::string name;
  std::uint64_t received = 0;       // spans handed to this sink's queue
  std::uint64_t exported = 0;       // spans the sink wrote successfully
  std::uint64_t failed_batches = 0; // batches the sink reported an error for
  std::map<std::string, std::uint64_t> dropped;  // spans given up on, by reason
  std::uint64_t queued = 0;         // spans received but not yet written or dropped
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
  return f(caf::meta::type_name("sink_stats"), x.name, x.received, x.exported, x.failed_batches,
           x.dropped, x.queued);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, exporter_stats& x) {
  return f(caf::meta::type_name("exporter_stats"), x.spans_received, x.sinks);
}

struct exporter_config {
  std::int64_t batch_max_spans = 512;
  std::int64_t batch_delay_ms = 1000;
};

/// Spawns the exporter with its sinks (possibly none: spans are then counted
/// as received and discarded, which is what "tracing off" means).
caf::actor spawn_exporter(caf::actor_system& sys, std::vector<std::unique_ptr<tracing::sink>> sinks,
                          exporter_config cfg);

}  // namespace weft::actors
