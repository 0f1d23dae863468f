// W3C traceparent parsing and formatting, and tracestate validation.
#include "tracing/traceparent.hpp"

#include <vector>

namespace weft::tracing {
namespace {

constexpr std::size_t v00_length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2

// The spec allows lowercase hex only; uppercase is an error, not a variant.
constexpr bool is_lower_hex(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

constexpr int lower_hex_value(char c) noexcept { return c <= '9' ? c - '0' : c - 'a' + 10; }

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
    else *why = std::string(name) + " contains a character that is not hex";
  }
  return false;
}

bool check_dash(std::string_view h, std::size_t pos, const char* after, std::string* why) {
  if (h[pos] == '-') return true;
  if (why)
    *why = std::string("expected '-' after ") + after + " at position " + std::to_string(pos);
  return false;
}

// ---- tracestate

constexpr std::size_t max_simple_key = 256;  // lcalpha 0*255(...)
constexpr std::size_t max_tenant = 241;      // (lcalpha / DIGIT) 0*240(...)
constexpr std::size_t max_system = 14;       // lcalpha 0*13(...)
constexpr std::size_t max_value = 256;       // 0*255(chr) nblk-chr

constexpr bool is_lcalpha(char c) noexcept { return c >= 'a' && c <= 'z'; }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_key_char(char c) noexcept {
  return is_lcalpha(c) || is_digit(c) || c == '_' || c == '-' || c == '*' || c == '/';
}
constexpr bool is_value_char(char c) noexcept {
  return c >= 0x20 && c <= 0x7e && c != ',' && c != '=';
}

// Names a rejected character without quoting the header around it: a lone
// punctuation mark gives nothing away, a run of the header text might.
std::string describe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (c >= 'A' && c <= 'Z') return "an uppercase letter";
  if (c == ' ' || c == '\t') return "whitespace";
  if (u < 0x20 || u >= 0x7f) return "a control or non-ASCII byte";
  return std::string("'") + c + "'";
}

// Checks one part of a key: its length, its first character and the rest.
bool check_key_part(std::string_view part, const char* name, std::size_t max, bool digit_first,
                    std::size_t offset, std::string& why) {
  if (part.empty()) {
    why = std::string(name) + " is empty";
    return false;
  }
  if (part.size() > max) {
    why = std::string(name) + " is longer than " + std::to_string(max) + " characters";
    return false;
  }
  if (!is_lcalpha(part[0]) && !(digit_first && is_digit(part[0]))) {
    why = std::string(name) + (digit_first ? " must start with a lowercase letter or a digit"
                                           : " must start with a lowercase letter");
    return false;
  }
  for (std::size_t i = 1; i < part.size(); ++i)
    if (!is_key_char(part[i])) {
      why = std::string(name) + " has " + describe(part[i]) + " at offset " +
            std::to_string(offset + i) + "; keys allow a-z 0-9 _ - * / and one '@'";
      return false;
    }
  return true;
}

bool check_key(std::string_view key, std::string& why) {
  const auto at = key.find('@');
  if (at == std::string_view::npos)
    return check_key_part(key, "key", max_simple_key, false, 0, why);
  if (key.find('@', at + 1) != std::string_view::npos) {
    why = "key has more than one '@'";
    return false;
  }
  return check_key_part(key.substr(0, at), "tenant id of the key", max_tenant, true, 0, why) &&
         check_key_part(key.substr(at + 1), "system id of the key", max_system, false, at + 1, why);
}

// The value comes with surrounding whitespace already removed, so a trailing
// space (which the grammar forbids) cannot be left here.
bool check_value(std::string_view value, std::string& why) {
  if (value.empty()) {
    why = "value is empty";
    return false;
  }
  if (value.size() > max_value) {
    why = "value is longer than " + std::to_string(max_value) + " characters";
    return false;
  }
  for (std::size_t i = 0; i < value.size(); ++i)
    if (!is_value_char(value[i])) {
      why = "value has " + describe(value[i]) + " at offset " + std::to_string(i) +
            "; values allow printable ASCII except ',' and '='";
      return false;
    }
  return true;
}

std::optional<parsed_tracestate> fail_state(std::string* why, std::string reason) {
  if (why) *why = std::move(reason);
  return std::nullopt;
}

struct tracestate_member {
  std::string_view text;  // "key=value", trimmed
  std::size_t key_size;
  std::size_t position;  // for error messages, as in parse_tracestate
};

// Length of the members joined by commas.
std::size_t joined_length(const std::vector<tracestate_member>& members) {
  std::size_t n = members.empty() ? 0 : members.size() - 1;
  for (const auto& m : members) n += m.text.size();
  return n;
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
  out.flags =
      static_cast<std::uint8_t>(lower_hex_value(flags_hex[0]) * 16 + lower_hex_value(flags_hex[1]));
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

std::optional<parsed_tracestate> parse_tracestate(std::string_view header, std::string* why) {
  std::vector<tracestate_member> members;
  std::size_t position = 0;  // 1-based, among all comma-separated pieces
  for (std::size_t start = 0; start <= header.size();) {
    auto comma = header.find(',', start);
    if (comma == std::string_view::npos) comma = header.size();
    const auto piece = trim_ows(header.substr(start, comma - start));
    start = comma + 1;
    ++position;
    if (piece.empty()) continue;

    const auto where = "list member " + std::to_string(position);
    const auto eq = piece.find('=');
    if (eq == std::string_view::npos) return fail_state(why, where + " has no '='");
    const auto key = piece.substr(0, eq);
    std::string reason;
    if (!check_key(key, reason) || !check_value(piece.substr(eq + 1), reason))
      return fail_state(why, where + ": " + reason);
    // At most 32 members, so a linear search beats building a set.
    for (const auto& m : members)
      if (m.text.substr(0, m.key_size) == key)
        return fail_state(why,
                          where + " repeats the key of list member " + std::to_string(m.position));
    if (members.size() == tracestate_max_members)
      return fail_state(why,
                        "more than " + std::to_string(tracestate_max_members) + " list members");
    members.push_back({piece, key.size(), position});
  }

  parsed_tracestate out;
  std::size_t length = joined_length(members);
  while (length > tracestate_max_length) {
    auto victim = members.end() - 1;
    for (auto i = members.end(); i != members.begin();)
      if ((--i)->text.size() > tracestate_large_member) {
        victim = i;
        break;
      }
    members.erase(victim);
    ++out.dropped;
    length = joined_length(members);
  }
  out.members = members.size();
  out.value.reserve(length);
  for (const auto& m : members) {
    if (!out.value.empty()) out.value += ',';
    out.value += m.text;
  }
  return out;
}

}  // namespace weft::tracing
