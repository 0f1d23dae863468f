// The W3C Trace Context headers (level 1): `traceparent` and `tracestate`.
//
//   traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
//                ^^ ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^ ^^^^^^^^^^^^^^^^ ^^
//           version          trace-id                  parent-id    flags
//
//   tracestate:  rojo=00f067aa0ba902b7, congo=t61rcWkgMzE
//
// Parsing traceparent is strict, because a header that is accepted wrongly
// glues a run onto somebody else's trace: lowercase hex only, exact field
// lengths, no all-zero ids, version "ff" rejected, and version 00 must be
// exactly 55 characters. Higher (future) versions are parsed as the spec
// asks: at least 55 characters, and anything past the flags must start with
// '-'. The only leniency is trimming spaces and tabs around the value, which
// HTTP allows around any header value.
//
// tracestate is vendor data that is only meaningful next to a traceparent,
// and both headers live here so that whoever parses one finds the other.
// It is validated as strictly as the grammar says, and an invalid one is
// dropped whole rather than guessing which members to keep; that never
// costs the traceparent. A valid one is normalised (see
// parse_tracestate) so that every span of a run carries the same text.
#pragma once

#include <cstddef>
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

/// The limits of W3C Trace Context level 1 for tracestate: list members per
/// header, the length a vendor must be able to pass on (commas included,
/// optional whitespace not), and the size of member that goes first when a
/// list has to be cut to that length.
inline constexpr std::size_t tracestate_max_members = 32;
inline constexpr std::size_t tracestate_max_length = 512;
inline constexpr std::size_t tracestate_large_member = 128;

struct parsed_tracestate {
  /// The list in normal form: the members in their order, joined by "," with
  /// no whitespace and no empty members. Empty when the header held none.
  std::string value;
  /// Members in `value`.
  std::size_t members = 0;
  /// Members dropped to keep `value` within tracestate_max_length; almost
  /// always 0.
  std::size_t dropped = 0;
};

/// Parses and normalises a tracestate header value:
///
///   list   = member *( OWS "," OWS member ), OWS = spaces and tabs
///   member = key "=" value, or nothing (empty members are dropped: HTTP
///            makes them when it joins repeated headers)
///   key    = lcalpha *255( lcalpha / DIGIT / "_" / "-" / "*" / "/" )
///          | tenant "@" system, where tenant is 1-241 of those characters
///            starting with lcalpha or DIGIT, and system 1-14 starting
///            with lcalpha
///   value  = 1-256 characters 0x20-0x7E other than "," and "=", the last
///            one not a space (the spec's `0*255(chr) nblk-chr`)
///
/// Invalid: more than 32 non-empty members, a key that appears twice, or any
/// member that breaks the grammar (no whitespace around "=", none inside a
/// key). A valid list longer than 512 characters in normal form is cut as
/// the spec recommends, whole members only: first members longer than 128
/// characters, last one first, then members from the end, until it fits.
///
/// On failure returns nullopt and, when `why` is given, stores a reason that
/// names the member by its 1-based position among the comma-separated
/// pieces. Like parse_traceparent it never echoes keys or values.
std::optional<parsed_tracestate> parse_tracestate(std::string_view header,
                                                  std::string* why = nullptr);

}  // namespace weft::tracing
