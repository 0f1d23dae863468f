// Exporter and sink settings: which sinks exist, where they send, and the
// exporter's delivery limits. A sink exists only when its settings are
// present (DESIGN invariant 3), so each is an optional.
//
// | setting                         | env                                   | default        |
// |---------------------------------|---------------------------------------|----------------|
// | otlp.endpoint                   | OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (as is), or OTEL_EXPORTER_OTLP_ENDPOINT + "/v1/traces" | (no otlp sink) |
// | otlp.headers                    | OTEL_EXPORTER_OTLP_HEADERS, then _TRACES_HEADERS (k=v,k2=v2, values %-decoded) | none |
// | otlp.timeout_ms                 | OTEL_EXPORTER_OTLP_TIMEOUT (ms)       | 10000          |
// | otlp.gzip                       | OTEL_EXPORTER_OTLP_COMPRESSION=gzip   | off            |
// | langfuse (all three required)   | LANGFUSE_PUBLIC_KEY, LANGFUSE_SECRET_KEY, LANGFUSE_HOST or LANGFUSE_BASE_URL | (no langfuse sink) |
// | langfuse.legacy                 | LANGFUSE_INGESTION=legacy             | otlp endpoint  |
// | langfuse.environment / release  | LANGFUSE_TRACING_ENVIRONMENT / LANGFUSE_RELEASE | unset |
// | max_queue_spans                 | WEFT_EXPORT_MAX_QUEUE                 | 65536          |
// | spool_dir                       | WEFT_SPOOL_DIR                        | weft-spool     |
// | spool_max_bytes                 | WEFT_SPOOL_MAX_BYTES                  | 1 GiB          |
// | shutdown_timeout_ms             | WEFT_EXPORT_SHUTDOWN_TIMEOUT_MS       | 10000          |
// | retry initial / max backoff     | WEFT_EXPORT_RETRY_INITIAL_MS / _MAX_MS| 1000 / 30000   |
//
// Secret values (header values, the Langfuse secret key) are never printed:
// errors name the variable, not its value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weft/settings.hpp"

namespace weft::config {

// The public settings types (weft/settings.hpp), under the names the engine uses.
using weft::export_settings;
using weft::header_list;
using weft::langfuse_settings;
using weft::otlp_settings;

/// Parses "k=v,k2=v2" (OTEL_EXPORTER_OTLP_HEADERS); values are %-decoded.
/// Returns nullopt on a malformed entry; `why` says which entry (by position,
/// never by value).
std::optional<header_list> parse_otlp_headers(const std::string& text, std::string* why);

/// Applies the environment variables above. Errors name the variable.
void apply_export_env(export_settings& s, std::vector<std::string>& errors,
                      const std::function<std::optional<std::string>(const char*)>& env);

}  // namespace weft::config
