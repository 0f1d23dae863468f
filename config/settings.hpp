// Engine settings and where they come from.
//
// Precedence, highest first: command-line flag > environment variable >
// YAML settings file > built-in default. Loaders apply one source on top of
// a settings value, so callers layer them in that order: defaults, then
// apply_file, then apply_env, then their own flags.
//
// | setting                    | env                         | file key          | default            |
// |----------------------------|-----------------------------|-------------------|--------------------|
// | threads                    | WEFT_THREADS                | threads           | 0 (every core)     |
// | tracing.trace_file         | WEFT_TRACE_FILE             | trace_file        | (see below)        |
// | tracing.content            | WEFT_TRACE_CONTENT          | trace_content     | false              |
// | tracing.sample             | WEFT_TRACE_SAMPLE           | trace_sample      | 1.0                |
// | tracing.service_name       | OTEL_SERVICE_NAME           | service_name      | "weft"             |
// | tracing.batch_max_spans    | WEFT_EXPORT_BATCH_SPANS     | export_batch_spans| 512                |
// | tracing.batch_delay_ms     | WEFT_EXPORT_BATCH_DELAY_MS  | export_batch_delay_ms | 1000           |
// | tracing.batch_max_bytes    | WEFT_EXPORT_BATCH_BYTES     | export_batch_bytes| 3 MiB              |
// | http.max_connections       | WEFT_HTTP_MAX_CONNECTIONS   | http_max_connections | 256             |
// | http.max_host_connections  | WEFT_HTTP_MAX_HOST_CONNECTIONS | http_max_host_connections | 64       |
// | http.max_response_bytes    | WEFT_HTTP_MAX_RESPONSE_BYTES | http_max_response_bytes | 64 MiB       |
// | http.stream_window_bytes   | WEFT_HTTP_STREAM_WINDOW_BYTES | http_stream_window_bytes | 1 MiB       |
//
// The http settings are the limits of the engine's HTTP client for
// components (node_context::http); the exporter's client has its own.
//
// When no sink at all is configured, the file sink writes to
// default_trace_file() ("weft-traces.jsonl" in the working directory).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "weft/settings.hpp"

#include "config/export_settings.hpp"

namespace weft::config {

// The public settings types (weft/settings.hpp), under the names the engine uses.
using weft::engine_settings;
using weft::http_settings;
using weft::tracing_settings;

/// The trace file used when no sink is configured.
std::string default_trace_file();

using env_getter = std::function<std::optional<std::string>(const char*)>;
env_getter process_env();

/// Applies environment variables, including the exporter's (see
/// export_settings.hpp). Each bad value adds an error that names the
/// variable and what is accepted; the setting keeps its old value.
void apply_env(engine_settings& s, std::vector<std::string>& errors,
               const env_getter& env = process_env());

/// Applies a YAML settings file (a mapping of the file keys above). Errors
/// name the file, line and key.
void apply_file(engine_settings& s, const std::string& path, std::vector<std::string>& errors);

/// Parses a boolean as people write them: true/false, 1/0, yes/no, on/off.
std::optional<bool> parse_bool(const std::string& text);

}  // namespace weft::config
