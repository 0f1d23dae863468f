// Trace and span identifiers (W3C Trace Context / OpenTelemetry sizes).
//
// A trace id is 16 random bytes, a span id 8 random bytes; the all-zero value
// of either is invalid and never generated. Ids come from a thread_local PRNG:
// it holds no trace context, so it does not break the "no ambient context"
// invariant, and it keeps id generation lock-free on every scheduler thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace weft::tracing {

struct trace_id {
  std::array<std::uint8_t, 16> bytes{};

  bool valid() const noexcept;
  /// 32 lowercase hex characters.
  std::string to_hex() const;
  /// Parses exactly 32 hex characters (either case); nullopt on anything
  /// else or all zero. Strict lowercase-only parsing is traceparent's job.
  static std::optional<trace_id> from_hex(std::string_view hex);
  /// A fresh random, non-zero id.
  static trace_id random();

  friend bool operator==(const trace_id&, const trace_id&) = default;
  // clang-tidy 14 takes the 0 its synthesized comparison checks against
  // for a null pointer constant.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const trace_id&, const trace_id&) = default;
};

struct span_id {
  std::uint64_t value = 0;

  bool valid() const noexcept { return value != 0; }
  /// 16 lowercase hex characters, big-endian (as on the wire).
  std::string to_hex() const;
  /// Parses exactly 16 hex characters (either case); nullopt on anything
  /// else or all zero.
  static std::optional<span_id> from_hex(std::string_view hex);
  /// A fresh random, non-zero id.
  static span_id random();

  friend bool operator==(const span_id&, const span_id&) = default;
  // clang-tidy 14 takes the 0 its synthesized comparison checks against
  // for a null pointer constant.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend auto operator<=>(const span_id&, const span_id&) = default;
};

/// Writes `n` bytes as lowercase hex into `out` (2n characters).
void append_hex(std::string& out, const std::uint8_t* data, std::size_t n);

}  // namespace weft::tracing
