// W3C traceparent parsing and formatting.
#include "tracing/traceparent.hpp"

namespace weft::tracing {
namespace {

constexpr std::size_t v00_length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

// The spec allows lowercase hex only; uppercase is an error, not a variant.
constexpr bool is_lower_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

constexpr int lower_hex_value(char c) noexcept {
  return c <= '9' ? c - '0' : c - 'a' + 10;
}

bool all_lower_hex(std::string_view s) noexcept {
  for (char c : s)
    if (!is_lower_hex(c)) return false;
  return true;
}

bool has_uppercase_hex(std::string_view s) noexcept {
  for (char c : s)
    if (c >= 'A' && c <= 'F') return true;
  return false;
}

std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<parsed_traceparent> fail(std::string* why, std::string reason) {
  if (why) *why = std::move(reason);
  return std::nullopt;
}

// Checks one hex field, giving the reason that helps most when it is wrong.
bool check_hex_field(std::string_view field, const char* name, std::string* why) {
  if (all_lower_hex(field)) return true;
  if (why) {
    if (has_uppercase_hex(field))
      *why = std::string(name) + " contains uppercase hex; only lowercase is allowed";
    else
      *why = std::string(name) + " contains a character that is not hex";
  }
  return false;
}

bool check_dash(std::string_view h, std::size_t pos, const char* after, std::string* why) {
  if (h[pos] == '-') return true;
  if (why) *why = std::string("expected '-' after ") + after + " at position " + std::to_string(pos);
  return false;
}

}  // namespace

std::optional<parsed_traceparent> parse_traceparent(std::string_view header, std::string* why) {
  const std::string_view h = trim_ows(header);
  if (h.empty()) return fail(why, "traceparent is empty");
  if (h.size() < 2) return fail(why, "traceparent is too short");
  if (!check_hex_field(h.substr(0, 2), "version", why)) return std::nullopt;
  if (h.substr(0, 2) == "ff") return fail(why, "version ff is invalid");

  parsed_traceparent out;
  out.version = static_cast<std::uint8_t>(lower_hex_value(h[0]) * 16 + lower_hex_value(h[1]));

  if (h.size() < v00_length)
    return fail(why, "traceparent has " + std::to_string(h.size()) +
                         " characters; at least 55 are required");
  if (out.version == 0 && h.size() != v00_length)
    return fail(why, "traceparent version 00 must be exactly 55 characters, got " +
                         std::to_string(h.size()));
  // A future version may append fields, but only behind another dash.
  if (out.version != 0 && h.size() > v00_length && h[v00_length] != '-')
    return fail(why, "unexpected character after trace-flags at position 55");

  if (!check_dash(h, 2, "version", why)) return std::nullopt;
  if (!check_dash(h, 35, "trace-id", why)) return std::nullopt;
  if (!check_dash(h, 52, "parent-id", why)) return std::nullopt;

  const auto trace_hex = h.substr(3, 32);
  const auto parent_hex = h.substr(36, 16);
  const auto flags_hex = h.substr(53, 2);
  if (!check_hex_field(trace_hex, "trace-id", why)) return std::nullopt;
  if (!check_hex_field(parent_hex, "parent-id", why)) return std::nullopt;
  if (!check_hex_field(flags_hex, "trace-flags", why)) return std::nullopt;

  // from_hex only fails here for an all-zero id: the characters are checked.
  auto trace = trace_id::from_hex(trace_hex);
  if (!trace) return fail(why, "trace-id is all zeros");
  auto parent = span_id::from_hex(parent_hex);
  if (!parent) return fail(why, "parent-id is all zeros");

  out.trace = *trace;
  out.parent = *parent;
  out.flags = static_cast<std::uint8_t>(lower_hex_value(flags_hex[0]) * 16 +
                                        lower_hex_value(flags_hex[1]));
  out.sampled = (out.flags & 0x01) != 0;
  return out;
}

std::string format_traceparent(const trace_id& trace, span_id span, bool sampled) {
  std::string s;
  s.reserve(v00_length);
  s += "00-";
  append_hex(s, trace.bytes.data(), trace.bytes.size());
  s += '-';
  s += span.to_hex();
  s += sampled ? "-01" : "-00";
  return s;
}

}  // namespace weft::tracing
