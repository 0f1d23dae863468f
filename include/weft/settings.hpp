// The engine's settings: threads, tracing, export sinks, HTTP limits.
//
// Plain values with working defaults. An embedder sets the fields it cares
// about in engine_options::settings, or starts from the environment with
// engine_options::from_env(), which reads the variables weft documents
// (WEFT_THREADS, WEFT_TRACE_SAMPLE, OTEL_EXPORTER_OTLP_ENDPOINT,
// LANGFUSE_PUBLIC_KEY, ...; README "Configuration"). `weft serve` and
// `weft run` layer them as flag > environment > settings file > default.
//
// A sink exists only when its settings are present: leave `exporter.otlp`
// and `exporter.langfuse` empty and spans go to the trace file alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft {

/// HTTP headers sent with every OTLP request ("Authorization", "Bearer ...").
using header_list = std::vector<std::pair<std::string, std::string>>;

/// An OTLP/HTTP (JSON) traces endpoint.
struct otlp_settings {
  std::string endpoint;  // the full traces URL
  header_list headers;
  std::int64_t timeout_ms = 10000;
  bool gzip = false;
};

/// A Langfuse project (its OTLP endpoint, or the legacy ingestion API).
struct langfuse_settings {
  std::string host;  // base URL, no trailing slash
  std::string public_key;
  std::string secret_key;
  bool legacy = false;
  std::string environment;
  std::string release;
  std::int64_t timeout_ms = 10000;
};

/// The sinks, and how the exporter delivers to them (queue, spool, retries).
struct export_settings {
  std::optional<otlp_settings> otlp;
  std::optional<langfuse_settings> langfuse;
  std::int64_t max_queue_spans = 65536;
  std::string spool_dir = "weft-spool";
  std::uint64_t spool_max_bytes = 1ULL << 30;
  std::int64_t shutdown_timeout_ms = 10000;
  std::int64_t retry_initial_ms = 1000;
  std::int64_t retry_max_ms = 30000;
  double retry_multiplier = 2.0;
};

/// How spans are recorded and batched.
struct tracing_settings {
  /// The JSON-lines trace file ("" with no other sink: weft-traces.jsonl).
  std::string trace_file;
  bool content = false;  // record inputs, outputs and prompts on spans
  double sample = 1.0;   // the share of new traces recorded, 0..1
  std::string service_name = "weft";
  std::int64_t batch_max_spans = 512;
  std::int64_t batch_max_bytes = 3 << 20;
  std::int64_t batch_delay_ms = 1000;
};

/// Limits of the engine's HTTP client for components.
struct http_settings {
  std::int64_t max_connections = 256;          // open at once, every host together
  std::int64_t max_host_connections = 64;      // to one host; more requests wait for one
  std::int64_t max_response_bytes = 64 << 20;  // a larger body fails the request
  std::int64_t stream_window_bytes = 1 << 20;  // a streamed body's unread bytes before pausing
};

struct engine_settings {
  int threads = 0;  // scheduler threads; 0: one per core
  tracing_settings tracing;
  http_settings http;
  export_settings exporter;
};

}  // namespace weft
