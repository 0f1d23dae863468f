// A finished span, as the exporter receives it.
//
// Spans are plain data: created by the actor that owns the work, filled in as
// the work goes, and sent by value to the exporter when it ends. Attribute
// values are the OTLP scalar kinds plus arrays of strings (OTLP's arrayValue,
// as in `gen_ai.response.finish_reasons: ["stop"]`); structured content
// (inputs, outputs) is carried as a JSON string.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "tracing/ids.hpp"

namespace weft::tracing {

// The string array is the last alternative so that the indices of the
// others stay what encoders and the CAF wire form already use.
using attribute_value =
    std::variant<std::string, std::int64_t, double, bool, std::vector<std::string>>;

struct attribute {
  std::string key;
  attribute_value value;
};

/// Something that happened at one instant inside a span (OTLP Span.Event).
struct span_event {
  std::string name;
  std::uint64_t time_unix_ns = 0;
  std::vector<attribute> attributes;
};

/// OTLP status codes (integer enum values of the protobuf).
enum class status_code : int { unset = 0, ok = 1, error = 2 };

/// OTLP span kinds (integer enum values of the protobuf).
enum class span_kind : int {
  unspecified = 0,
  internal = 1,
  server = 2,
  client = 3,
  producer = 4,
  consumer = 5
};

struct span_record {
  trace_id trace;
  span_id id;
  /// The run's W3C tracestate (trace_context::trace_state); usually empty.
  std::string trace_state;
  span_id parent;  // invalid (zero) for a root span
  std::string name;
  span_kind kind = span_kind::internal;
  std::uint64_t start_unix_ns = 0;
  std::uint64_t end_unix_ns = 0;
  status_code status = status_code::unset;
  std::string status_message;
  std::vector<attribute> attributes;
  std::vector<span_event> events;  // in the order they were added

  void set(std::string key, attribute_value v) {
    attributes.push_back({std::move(key), std::move(v)});
  }
  /// The value of `key`, or nullptr.
  const attribute_value* find(std::string_view key) const {
    for (auto& a : attributes)
      if (a.key == key) return &a.value;
    return nullptr;
  }
};

/// Nanoseconds since the Unix epoch, from the system clock.
std::uint64_t now_unix_ns() noexcept;

}  // namespace weft::tracing
