// The OTLP/JSON encoder: spans -> one ExportTraceServiceRequest.
//
// Output follows the OTLP/JSON encoding rules (opentelemetry-proto, "JSON
// Protobuf Encoding"): lowerCamelCase field names; trace and span ids as
// lowercase hex strings (not base64); enums (kind, status code) as integers;
// 64-bit integers (timestamps, intValue) as decimal strings. Span fields come
// in the proto's order (traceId, spanId, traceState, parentSpanId, name, ...).
// An empty traceState and the root span's parentSpanId are omitted, and an
// unset status is written as "status":{}. String arrays are
// {"arrayValue":{"values":[{"stringValue":...},...]}} (an empty one keeps
// "values":[]). Span events follow the attributes as "events":[{
// "timeUnixNano","name","attributes"}], and "events" is omitted when a span
// has none, so such spans encode exactly as before events existed.
//
// The output is always valid JSON: control characters are escaped, and bytes
// that are not valid UTF-8 become U+FFFD (each maximal invalid subsequence
// gives one U+FFFD, as Unicode recommends). Non-finite doubles are written as
// the strings "NaN", "Infinity" and "-Infinity", as the protobuf JSON mapping
// does.
//
// The encoder writes with plain string appends: it sits on the exporter's hot
// path, which must keep up with thousands of concurrent runs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "tracing/sink.hpp"
#include "tracing/span.hpp"

namespace weft::tracing {

/// Appends one ExportTraceServiceRequest JSON object holding `spans` (one
/// resource, one scope) to `out`, without a trailing newline.
void append_export_request(std::string& out, const std::vector<span_record>& spans,
                           const resource_info& resource);

/// The same, as a fresh string.
std::string encode_export_request(const std::vector<span_record>& spans,
                                  const resource_info& resource);

/// Appends `s` as a quoted JSON string, escaped and with invalid UTF-8
/// replaced by U+FFFD. Shared with other hand-written JSON encoders.
void append_json_string(std::string& out, std::string_view s);

}  // namespace weft::tracing
