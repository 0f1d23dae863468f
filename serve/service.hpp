// The HTTP face of the engine: what `weft serve` answers, route by route.
//
//   POST /v1/flows/{flow}/runs   {"inputs": {...}, "session_id", "user_id", "timeout_ms",
//                                 "stream", "on_disconnect"}
//                                -> 200 {"run_id", "trace_id", "outputs", "duration_ms"}
//                                or, with "stream": true or "Accept: text/event-stream",
//                                -> 200 text/event-stream of the run's events
//                                   (serve/event_stream.hpp)
//   GET  /v1/flows               -> {"flows": [description...]}
//   GET  /v1/flows/{flow}        -> description (serve/flow_catalog.hpp)
//   GET  /healthz                -> 200 while the process lives (never needs auth)
//   GET  /readyz                 -> 200 once flows are loaded and the exporter answers;
//                                   503 while draining
//   GET  /metrics                -> Prometheus text 0.0.4 (serve/metrics.hpp)
//   GET|DELETE /v1/runs/{id}, GET /v1/runs/{id}/events
//                                -> background runs ("background": true; serve/background_runs.hpp)
//   GET  /v1/models, POST /v1/chat/completions
//                                -> flows as OpenAI chat models (serve/openai.hpp)
//
// Every error is JSON {"error": {"code", "message", "details"}}: 400 bad JSON
// or inputs (naming the field), 401 bad or missing bearer token (with
// WWW-Authenticate), 404 unknown flow or path, 405 wrong method (with
// Allow), 415 a body that is not JSON, 422 the run failed (node and
// message), 503 over max_inflight (with Retry-After), 504 run timed out.
// The HTTP layer adds 400/408/411/413/431/503 for what it rejects itself.
//
// Tracing. A `traceparent` header makes the run's root span a child of the
// caller's span, in the caller's trace, and `tracestate` travels with it;
// every answer about a run carries a `traceparent` header for the run's
// root span. `X-Session-Id` and `X-User-Id` stand in for the body fields.
//
// Threading. handle() runs on the server's I/O thread and never waits: a
// run's answer is sent from the engine thread that finishes the run, and
// /metrics and /readyz ask the exporter asynchronously. A run request with a
// large body is parsed and checked on a scheduler thread, so that no client
// can hold the I/O thread that every connection shares.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "actors/engine_internals.hpp"
#include "net/http_server.hpp"
#include "serve/background_runs.hpp"
#include "serve/event_stream.hpp"
#include "serve/flow_catalog.hpp"
#include "serve/genai_metrics.hpp"
#include "serve/metrics.hpp"

namespace weft::serve {

struct service_config {
  /// Runs in flight at most; more get 503 with Retry-After.
  std::size_t max_inflight = 10000;
  /// When non-empty, every route but /healthz needs "Authorization: Bearer <key>".
  std::string api_key;
  /// Seconds suggested in Retry-After on 503.
  int retry_after_s = 1;
  /// session_id, user_id and their headers may be at most this long (they
  /// are copied onto every span of the run); longer ones get 400.
  std::size_t max_id_bytes = 256;
  /// The largest timeout_ms a request may ask for (one day).
  std::int64_t max_timeout_ms = 86'400'000;
  /// Arrays and objects in a request body may nest this deep; deeper gets 400.
  std::size_t max_depth = 64;
  /// Bodies at least this large are parsed and checked on a scheduler
  /// thread instead of the server's I/O thread (0: every body).
  std::size_t offload_body_bytes = 16 * 1024;
  /// Event-stream bytes held for a client that reads slowly; past it the
  /// stream ends with an error event (serve/event_stream.hpp).
  std::size_t max_stream_buffer_bytes = 1 << 20;
  /// A comment line goes to every open event stream this often.
  std::chrono::milliseconds heartbeat{15000};
  /// What background runs keep (serve/background_runs.hpp).
  background_limits background;
};

class service {
 public:
  /// `eng` and the service must outlive every request (drain the server first).
  service(engine& eng, flow_catalog flows, service_config cfg);

  /// The server's request handler.
  void handle(net::server_request req, net::responder reply);
  /// The server's on_response hook: counts answers by status code.
  void on_response(int status) { metrics_.http_request(status); }

  /// The server whose own counters /metrics shows too (answers dropped,
  /// forced closes, busy refusals, buffered bytes). Optional.
  void attach_server(const net::http_server* server) { server_ = server; }
  /// The GenAI metrics /metrics shows (fed by engine_options::on_llm_call,
  /// which must be set before the engine is built). Optional.
  void attach_genai(std::shared_ptr<const genai_metrics> g) { genai_ = std::move(g); }

  /// From now on /readyz answers 503 (the server itself refuses new requests).
  void begin_drain() { draining_ = true; }

  const flow_catalog& flows() const { return flows_; }
  metrics& counters() { return metrics_; }
  std::int64_t runs_in_flight() const { return inflight_.load(); }

 private:
  void start_run(const std::shared_ptr<const flows::plan>& flow, net::server_request& req,
                 net::responder& reply);
  bool admit();  // reserves an in-flight slot, or false at the limit
  // traceparent and tracestate headers into `ro` (every run route).
  static void trace_headers(const net::server_request& req, run_options& ro);
  // The OpenAI-compatible routes (serve/openai.cpp).
  void openai_models(const net::responder& reply);
  void openai_chat(net::server_request& req, const net::responder& reply);
  // /v1/runs/{id}[/events]: background runs.
  void run_route(net::server_request& req, const net::responder& reply);
  void start_background(const std::shared_ptr<const flows::plan>& flow, flows::value_map inputs,
                        run_options ro, const net::responder& reply);

  engine& eng_;
  flow_catalog flows_;
  service_config cfg_;
  metrics metrics_;
  std::atomic<std::int64_t> inflight_{0};
  std::atomic<bool> draining_{false};
  const net::http_server* server_ = nullptr;
  stream_counters streams_;
  heartbeat heartbeat_;
  std::int64_t started_unix_ = 0;  // the models' "created"
  std::shared_ptr<const genai_metrics> genai_;
  background_runs background_;
};

}  // namespace weft::serve
