// OTLP/JSON encoding, hand-written for speed.
#include "tracing/otlp_json.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <variant>

namespace weft::tracing {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// 0: copy as is; 1: ASCII that needs an escape; 2: start of a non-ASCII
// sequence that must be validated.
constexpr auto make_char_class() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 1;
  t['"'] = 1;
  t['\\'] = 1;
  for (int c = 0x80; c < 0x100; ++c) t[c] = 2;
  return t;
}
constexpr auto char_class = make_char_class();

constexpr std::string_view replacement_char = "\xEF\xBF\xBD";  // U+FFFD

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    default: {
      const char u[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 0x0f]};
      out.append(u, 6);
    }
  }
}

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one.
// On 0, `bad` is the length of the maximal invalid subpart to replace by one
// U+FFFD (Unicode 15, section 3.9, "U+FFFD Substitution of Maximal Subparts").
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::size_t& bad) {
  const auto lead = static_cast<unsigned char>(s[i]);
  std::size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;       // overlong
    else if (lead == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;       // overlong
    else if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    bad = 1;
    return 0;
  }
  for (std::size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) {
      bad = k;
      return 0;
    }
    const auto c = static_cast<unsigned char>(s[i + k]);
    const bool ok = k == 1 ? (c >= lo && c <= hi) : (c >= 0x80 && c <= 0xBF);
    if (!ok) {
      bad = k;
      return 0;
    }
  }
  return need;
}

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_i64(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    // Shortest form that reads back to the same double: round trips exactly.
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

void append_span_id(std::string& out, span_id id) {
  char buf[16];
  for (int i = 0; i < 16; ++i) buf[i] = hex_digits[(id.value >> (60 - 4 * i)) & 0x0f];
  out.append(buf, 16);
}

void append_string_attribute(std::string& out, std::string_view key, std::string_view value) {
  out += "{\"key\":";
  append_json_string(out, key);
  out += ",\"value\":{\"stringValue\":";
  append_json_string(out, value);
  out += "}}";
}

void append_attribute(std::string& out, const attribute& a) {
  out += "{\"key\":";
  append_json_string(out, a.key);
  out += ",\"value\":{";
  std::visit(
      [&out](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          out += "\"stringValue\":";
          append_json_string(out, v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          // AnyValue.array_value: an ArrayValue message whose `values` are
          // AnyValues; empty arrays keep the (empty) list so that they read
          // back as arrays, not as an absent value.
          out += "\"arrayValue\":{\"values\":[";
          bool first = true;
          for (const auto& item : v) {
            if (!first) out += ',';
            first = false;
            out += "{\"stringValue\":";
            append_json_string(out, item);
            out += '}';
          }
          out += "]}";
        } else if constexpr (std::is_same_v<T, bool>) {
          out += v ? "\"boolValue\":true" : "\"boolValue\":false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          out += "\"intValue\":\"";
          append_i64(out, v);
          out += '"';
        } else {
          static_assert(std::is_same_v<T, double>);
          out += "\"doubleValue\":";
          append_double(out, v);
        }
      },
      a.value);
  out += "}}";
}

void append_attributes(std::string& out, const std::vector<attribute>& attributes) {
  out += '[';
  bool first = true;
  for (const auto& a : attributes) {
    if (!first) out += ',';
    first = false;
    append_attribute(out, a);
  }
  out += ']';
}

// Span.Event in the proto's field order (time_unix_nano 1, name 2,
// attributes 3); fixed64 goes as a decimal string, as for the span's times.
void append_event(std::string& out, const span_event& e) {
  out += "{\"timeUnixNano\":\"";
  append_u64(out, e.time_unix_ns);
  out += "\",\"name\":";
  append_json_string(out, e.name);
  out += ",\"attributes\":";
  append_attributes(out, e.attributes);
  out += '}';
}

void append_span(std::string& out, const span_record& s) {
  out += "{\"traceId\":\"";
  append_hex(out, s.trace.bytes.data(), s.trace.bytes.size());
  out += "\",\"spanId\":\"";
  append_span_id(out, s.id);
  out += '"';
  // Fields in the proto's order (trace_state is field 3, parent 4); both are
  // left out when they hold the default, as OTLP/JSON does.
  if (!s.trace_state.empty()) {
    out += ",\"traceState\":";
    append_json_string(out, s.trace_state);  // values may hold quotes and backslashes
  }
  if (s.parent.valid()) {
    out += ",\"parentSpanId\":\"";
    append_span_id(out, s.parent);
    out += '"';
  }
  out += ",\"name\":";
  append_json_string(out, s.name);
  out += ",\"kind\":";
  append_i64(out, static_cast<int>(s.kind));
  out += ",\"startTimeUnixNano\":\"";
  append_u64(out, s.start_unix_ns);
  out += "\",\"endTimeUnixNano\":\"";
  append_u64(out, s.end_unix_ns);
  out += "\",\"attributes\":";
  append_attributes(out, s.attributes);
  // events is field 11, after attributes (9) and before status (15); left
  // out when empty, as OTLP/JSON leaves out empty repeated fields, which
  // keeps spans without events byte-identical to what earlier weft wrote.
  if (!s.events.empty()) {
    out += ",\"events\":[";
    bool first = true;
    for (const auto& e : s.events) {
      if (!first) out += ',';
      first = false;
      append_event(out, e);
    }
    out += ']';
  }
  out += ",\"status\":{";
  if (s.status != status_code::unset) {
    out += "\"code\":";
    append_i64(out, static_cast<int>(s.status));
  }
  if (!s.status_message.empty()) {
    if (s.status != status_code::unset) out += ',';
    out += "\"message\":";
    append_json_string(out, s.status_message);
  }
  out += "}}";
}

std::size_t attributes_size(const std::vector<attribute>& attributes) {
  std::size_t n = 0;
  for (const auto& a : attributes) {
    n += 40 + a.key.size();
    if (auto str = std::get_if<std::string>(&a.value)) {
      n += str->size() + 8;
    } else if (auto arr = std::get_if<std::vector<std::string>>(&a.value)) {
      n += 24;
      for (const auto& item : *arr) n += item.size() + 20;
    } else {
      n += 24;
    }
  }
  return n;
}

// A cheap guess of the output size, so that a batch is encoded with one or
// two allocations instead of a doubling chain.
std::size_t estimate_size(const std::vector<span_record>& spans) {
  std::size_t n = 512;
  for (const auto& s : spans) {
    n += 230 + s.name.size() + s.trace_state.size() + s.status_message.size();
    n += attributes_size(s.attributes);
    for (const auto& e : s.events) n += 64 + e.name.size() + attributes_size(e.attributes);
  }
  return n;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes copied verbatim
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const auto cls = char_class[c];
    if (cls == 0) {
      ++i;
      continue;
    }
    if (cls == 2) {
      std::size_t bad = 0;
      if (auto len = utf8_sequence(s, i, bad)) {
        i += len;  // valid: stays part of the verbatim run
        continue;
      }
      out.append(s.data() + run, i - run);
      out += replacement_char;
      i += bad;
    } else {
      out.append(s.data() + run, i - run);
      append_escape(out, c);
      ++i;
    }
    run = i;
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

void append_export_request(std::string& out, const std::vector<span_record>& spans,
                           const resource_info& resource) {
  out.reserve(out.size() + estimate_size(spans));
  out += "{\"resourceSpans\":[{\"resource\":{\"attributes\":[";
  append_string_attribute(out, "service.name", resource.service_name);
  if (!resource.service_version.empty()) {
    out += ',';
    append_string_attribute(out, "service.version", resource.service_version);
  }
  out += ',';
  append_string_attribute(out, "telemetry.sdk.name", "weft");
  out += ',';
  append_string_attribute(out, "telemetry.sdk.language", "cpp");
  out += "]},\"scopeSpans\":[{\"scope\":{\"name\":\"weft\"";
  if (!resource.service_version.empty()) {
    out += ",\"version\":";
    append_json_string(out, resource.service_version);
  }
  out += "},\"spans\":[";
  bool first = true;
  for (const auto& s : spans) {
    if (!first) out += ',';
    first = false;
    append_span(out, s);
  }
  out += "]}]}]}";
}

std::string encode_export_request(const std::vector<span_record>& spans,
                                  const resource_info& resource) {
  std::string out;
  append_export_request(out, spans, resource);
  return out;
}

}  // namespace weft::tracing
