// The W3C `traceparent` header (Trace Context, level 1).
//
//   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//                ^^ ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ ^^^^^^^^^^^^^^^^ ^^
//           version          trace-id                  parent-id    flags
//
// Parsing is strict, because a header that is accepted wrongly glues a run
// onto somebody else's trace: lowercase hex only, exact field lengths, no
// all-zero ids, version "ff" rejected, and version 00 must be exactly 55
// characters. Higher (future) versions are parsed as the spec asks: at least
// 55 characters, and anything past the flags must start with '-'. The only
// leniency is trimming spaces and tabs around the value, which HTTP allows
// around any header value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tracing/ids.hpp"

namespace weft::tracing {

struct parsed_traceparent {
  std::uint8_t version = 0;
  trace_id trace;
  /// The caller's span: the parent of the span that receives the header.
  span_id parent;
  /// All trace-flags bits, as received.
  std::uint8_t flags = 0;
  /// The sampled bit (flags & 0x01). When present, it wins over the local
  /// sampler (see tracing/sampler.hpp, should_sample).
  bool sampled = false;
};

/// Parses a traceparent header value. On failure returns nullopt and, when
/// `why` is given, stores a human-readable reason in it (for example
/// "trace-id is all zeros"). The reason never echoes the header value.
std::optional<parsed_traceparent> parse_traceparent(std::string_view header,
                                                    std::string* why = nullptr);

/// "00-<32 hex trace id>-<16 hex span id>-01" (or "-00" when not sampled).
std::string format_traceparent(const trace_id& trace, span_id span, bool sampled);

}  // namespace weft::tracing
