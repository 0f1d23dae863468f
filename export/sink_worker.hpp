// The one interface the exporter sees of a sink: a sink worker actor.
//
// Protocol, checked by the compiler (sink_worker):
//   span_batch                -> uint64_t    take a batch (the spans taken in;
//                                            the exporter counts a batch as
//                                            outstanding until this answer)
//   flush_atom, deadline_ms   -> bool        deliver everything taken in so
//                                            far; true when nothing was left
//                                            over at the deadline
//   stats_atom                -> sink_stats  this sink's counters
//
// Behind it are two kinds of backend, on purpose not one virtual interface:
//   - a blocking writer (tracing::sink: the trace file, and the embedder's
//     engine_options::extra_sinks), which either wrote a batch or did not,
//     run by spawn_blocking_worker on a thread of its own;
//   - an HTTP backend (http_sink_protocol in export/http_sink.hpp: OTLP,
//     Langfuse), a request encoding and rules for what each answer means,
//     run by spawn_http_worker with its queue, retries, spool and dead
//     letters.
// A file write and an HTTP exchange with backoff and a disk spool fail in
// different ways; forcing both through one virtual call would make the
// worker either lose the HTTP answer's meaning or pretend a disk retries.
// The worker actor is where they become the same thing to the exporter.
#pragma once

#include <cstdint>
#include <memory>

#include <caf/all.hpp>

#include "export/messages.hpp"
#include "tracing/sink.hpp"
#include "weft/log.hpp"
#include "weft/stats.hpp"

namespace weft {

// CAF serialises the counters in replies to stats requests; found by ADL.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, sink_stats& x) {
  return f(caf::meta::type_name("sink_stats"), x.name, x.received, x.exported, x.retried, x.spooled,
           x.replayed, x.failed_batches, x.dead_lettered_batches, x.dropped, x.queued,
           x.spool_bytes, x.spool_records_damaged, x.spool_bytes_quarantined);
}

}  // namespace weft

namespace weft::exporting {

using weft::sink_stats;

using sink_worker = caf::typed_actor<caf::replies_to<span_batch>::with<std::uint64_t>,
                                     caf::replies_to<flush_atom, std::int64_t>::with<bool>,
                                     caf::replies_to<stats_atom>::with<sink_stats>>;

/// Spawns the detached worker for a blocking sink (the file sink, or an
/// embedder's extra sink): writes and flushes happen on its own thread.
sink_worker spawn_blocking_worker(caf::actor_system& sys, std::shared_ptr<tracing::sink> s,
                                  log_fn log = log_to_stderr);

}  // namespace weft::exporting
