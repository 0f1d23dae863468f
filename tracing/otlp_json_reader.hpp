// The OTLP/JSON decoder: ExportTraceServiceRequest lines -> span records.
//
// It reads what tracing/otlp_json.hpp writes, exactly (encode -> read gives
// back equal span records), and the files of the OpenTelemetry Collector's
// file exporter: one request per line. `weft trace show` and the audits of
// `weft load` read trace files with it.
//
// It is lenient where OTLP/JSON producers differ and strict where data would
// be lost: ids may be hex in either case (or base64, as older protobuf JSON
// writers emit them), 64-bit integers may be strings or numbers, enums may
// be integers or their names ("SPAN_KIND_SERVER"). Span events are read
// with their times, names and attributes. An arrayValue becomes a string
// array: stringValue items as their strings, any other item as the JSON
// text of its AnyValue ({"intValue":"3"}). Attribute values that
// span_record cannot hold (key-value lists, bytes) are kept as their JSON
// text in a string attribute. A line is accepted whole or not at
// all; errors name the field ("resourceSpans[0].scopeSpans[0].spans[3].traceId:
// ..."). A line nesting objects and arrays more than 128 levels deep is
// refused before it is parsed: nothing here recurses over unbounded input.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tracing/sink.hpp"
#include "tracing/span.hpp"

namespace weft::tracing {

/// Called once per span read, with the resource that its resourceSpans entry
/// describes (service.name, service.version).
using otlp_span_callback = std::function<void(span_record&&, const resource_info&)>;

/// Parses one ExportTraceServiceRequest (one line of a JSON-lines file).
/// Returns its spans; on error returns no spans and sets `error`. When
/// `resource` is given it receives the first resource's service name and
/// version.
std::vector<span_record> read_otlp_json_line(std::string_view line, std::string* error,
                                             resource_info* resource = nullptr);

/// The same, handing each span to `on_span`. Returns false (and sets `error`)
/// when the line is bad, in which case `on_span` was not called at all.
bool read_otlp_json_line(std::string_view line, const otlp_span_callback& on_span,
                         std::string* error);

struct otlp_line_error {
  std::size_t line = 0;  // 1-based
  std::string message;   // "<path>:<line>: <field>: <problem>"
};

/// What reading a whole file found.
struct otlp_file_summary {
  /// Set when the file could not be opened or read at all.
  std::string open_error;
  std::size_t lines = 0;      // non-blank lines seen
  std::size_t spans = 0;      // spans delivered
  std::size_t bad_lines = 0;  // lines rejected
  /// The first max_reported_errors bad lines, in file order.
  std::vector<otlp_line_error> errors;
  static constexpr std::size_t max_reported_errors = 100;

  bool ok() const { return open_error.empty() && bad_lines == 0; }
};

/// Reads a JSON-lines file of ExportTraceServiceRequests, calling `on_span`
/// for every span. Bad lines are reported with their line number and
/// skipped; reading goes on. Blank lines are ignored, and "\r\n" endings are
/// accepted.
otlp_file_summary read_otlp_json_file(const std::string& path, const otlp_span_callback& on_span);

/// The same, appending the spans to `spans`.
otlp_file_summary read_otlp_json_file(const std::string& path, std::vector<span_record>& spans);

}  // namespace weft::tracing
