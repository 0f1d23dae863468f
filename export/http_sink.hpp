// HTTP sinks (OTLP/HTTP, Langfuse) and the worker that delivers to them.
//
// An http_sink_protocol knows one backend's wire format: how a batch becomes
// a request, and what a response means (delivered, retry later, or
// rejected for good). The worker owns everything about delivery that is
// the same for every backend:
//
//   - an in-memory queue of at most `max_queue_spans` spans;
//   - up to `max_in_flight` requests at once through the http_client actor;
//   - retries only where OTLP allows them (429, 502, 503, 504, and
//     connection, DNS or timeout failures), with exponential backoff and
//     jitter, honouring Retry-After (seconds or HTTP-date), without a limit
//     on attempts while the spool has room;
//   - a disk spool (tracing/spool.hpp): whenever the sink is failing, or the
//     queue is full, batches go to disk instead, and come back, oldest first,
//     once the backend answers again, or at the next start of the engine;
//   - a 413 answer splits the batch and sends the halves, down to single
//     spans; only a span too large on its own is rejected;
//   - a dead-letter file for batches the backend rejected (other 4xx/5xx,
//     redirects), bounded (export/dead_letter.hpp);
//   - counters for all of it, and every span it gives up on counted with a
//     reason.
//
// The worker is a detached actor: spool writes and fsyncs block, and they
// must not block a scheduler thread. HTTP itself goes through http_client,
// so the worker thread never waits on the network.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "config/export_settings.hpp"
#include "export/exporter.hpp"
#include "export/sink_worker.hpp"
#include "net/http_client.hpp"
#include "net/http_types.hpp"
#include "tracing/sink.hpp"

namespace weft::exporting {

/// What a response means for the batch that was sent.
struct delivery_verdict {
  /// too_large: the backend refused the request for its size (413); the
  /// worker sends the batch again in halves, down to single spans.
  enum kind_t { delivered, retry, reject, too_large } kind = delivered;
  /// retry: the server's Retry-After, in ms, when it sent one.
  std::optional<std::int64_t> retry_after_ms;
  /// delivered: spans the backend accepted but reported as rejected
  /// (OTLP partialSuccess); they are counted as dropped.
  std::uint64_t rejected_spans = 0;
  /// delivered, but only in part: these spans must go again (the Langfuse
  /// legacy API's 207 answers retry per event).
  std::vector<tracing::span_record> retry_spans;
  /// For the log and the dead-letter file: never with secrets, and remote
  /// text in it passed through net::printable (no control characters).
  std::string detail;
};

class http_sink_protocol {
 public:
  virtual ~http_sink_protocol() = default;
  virtual std::string name() const = 0;
  virtual net::http_request make_request(const std::vector<tracing::span_record>& batch) const = 0;
  /// The default rules: 2xx delivered (counting OTLP partialSuccess
  /// rejections), 429/502/503/504 and transport errors retried, 413 too
  /// large, the rest (redirects included: weft follows none, and says
  /// where it was sent) rejected.
  virtual delivery_verdict judge(const net::http_response& r) const;
  /// The verdict with the request and batch at hand, for backends that
  /// answer per event. Defaults to judge(r).
  virtual delivery_verdict judge(const net::http_request&, const net::http_response& r,
                                 const std::vector<tracing::span_record>&) const {
    return judge(r);
  }
  /// Splits a batch that would not fit one request; empty: send it whole.
  virtual std::vector<std::vector<tracing::span_record>> split(
      const std::vector<tracing::span_record>&) const {
    return {};
  }
};

/// OTLP/HTTP with JSON bodies (the file sink's encoder), optionally gzip'd.
std::unique_ptr<http_sink_protocol> make_otlp_protocol(const config::otlp_settings& s,
                                                       tracing::resource_info res);

/// Langfuse's OTLP endpoint ({host}/api/public/otel/v1/traces), HTTP Basic
/// auth, and weft's attributes mapped to Langfuse's.
std::unique_ptr<http_sink_protocol> make_langfuse_protocol(const config::langfuse_settings& s,
                                                           tracing::resource_info res,
                                                           bool content);

/// Langfuse's legacy batch ingestion (/api/public/ingestion): trace-create,
/// span-create and generation-create events, batches under 3.5 MB, and 207
/// answers retried per event (5xx and 429) or recorded as rejected.
std::unique_ptr<http_sink_protocol> make_langfuse_legacy_protocol(
    const config::langfuse_settings& s, bool content);

/// Parses Retry-After: delay-seconds or an HTTP-date; ms from `now_unix_s`.
std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_unix_s);

struct http_worker_config {
  std::int64_t max_queue_spans = 65536;
  std::string spool_dir;  // this sink's own directory; empty: no spool
  std::uint64_t spool_max_bytes = 1ULL << 30;
  std::int64_t retry_initial_ms = 1000;
  std::int64_t retry_max_ms = 30000;
  double retry_multiplier = 2.0;
  int max_in_flight = 4;
  /// Where this worker's messages go (engine_options::log, masked).
  log_fn log = log_to_stderr;
};

/// Spawns the detached worker for one HTTP sink. Its own retry and
/// deadline timers are messages of its extended interface, which only it
/// sends to itself; the exporter sees a sink_worker.
sink_worker spawn_http_worker(caf::actor_system& sys, std::shared_ptr<http_sink_protocol> proto,
                              net::http_client_actor http_client, http_worker_config cfg);

}  // namespace weft::exporting
