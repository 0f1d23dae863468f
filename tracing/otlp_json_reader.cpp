// OTLP/JSON decoding with nlohmann::json: reading is not on a hot path, and
// a well-tested parser is worth more here than speed.
#include "tracing/otlp_json_reader.hpp"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <system_error>

#include <nlohmann/json.hpp>

namespace weft::tracing {
namespace {

using json = nlohmann::json;

// Thrown inside this file only; read_otlp_json_line turns it into an error
// string, so a bad line never escapes as an exception.
struct read_failure {
  std::string message;
};

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw read_failure{where + ": " + what};
}

std::string describe_type(const json& v) { return v.type_name(); }

// Quotes offending text for an error message, cut short so that a garbage
// line does not turn into a garbage error.
std::string snippet(const std::string& text) {
  constexpr std::size_t max = 40;
  if (text.size() <= max) return "\"" + text + "\"";
  return "\"" + text.substr(0, max) + "...\"";
}

// A member that is present and not null, or nullptr.
const json* member(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& as_object(const json& v, const std::string& where) {
  if (!v.is_object()) fail(where, "expected an object, got " + describe_type(v));
  return v;
}

// An optional array member; an absent one reads as empty.
const json& array_member(const json& object, const char* key, const std::string& where) {
  static const json empty = json::array();
  const json* v = member(object, key);
  if (!v) return empty;
  if (!v->is_array()) fail(where + "." + key, "expected an array, got " + describe_type(*v));
  return *v;
}

std::string string_member(const json& object, const char* key, const std::string& where) {
  const json* v = member(object, key);
  if (!v) return {};
  if (!v->is_string()) fail(where + "." + key, "expected a string, got " + describe_type(*v));
  return v->get<std::string>();
}

template <class Int>
Int parse_integer_text(const std::string& text, const std::string& where) {
  Int value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty())
    fail(where, "expected an integer, got " + snippet(text));
  return value;
}

// 64-bit integers are strings in OTLP/JSON, but numbers are accepted too.
std::uint64_t read_u64(const json& v, const std::string& where) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) {
    auto x = v.get<std::int64_t>();
    if (x < 0) fail(where, "expected a non-negative integer");
    return static_cast<std::uint64_t>(x);
  }
  if (v.is_string()) return parse_integer_text<std::uint64_t>(v.get<std::string>(), where);
  fail(where, "expected an integer, got " + describe_type(v));
}

std::int64_t read_i64(const json& v, const std::string& where) {
  if (v.is_number_unsigned()) {
    auto x = v.get<std::uint64_t>();
    if (x > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      fail(where, "integer out of range");
    return static_cast<std::int64_t>(x);
  }
  if (v.is_number_integer()) return v.get<std::int64_t>();
  if (v.is_string()) return parse_integer_text<std::int64_t>(v.get<std::string>(), where);
  fail(where, "expected an integer, got " + describe_type(v));
}

double read_double(const json& v, const std::string& where) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    double d = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec == std::errc() && ptr == s.data() + s.size() && !s.empty()) return d;
    fail(where, "expected a number, got " + snippet(s));
  }
  fail(where, "expected a number, got " + describe_type(v));
}

// An enum given as its integer or as its protobuf name.
int read_enum(const json& v, const std::string& where, std::initializer_list<const char*> names) {
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    int i = 0;
    for (const char* n : names) {
      if (s == n) return i;
      ++i;
    }
    fail(where, "unknown value " + snippet(s));
  }
  auto x = read_i64(v, where);
  if (x < 0 || x >= static_cast<std::int64_t>(names.size()))
    fail(where, "value " + std::to_string(x) + " is out of range");
  return static_cast<int>(x);
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+' || c == '-') return 62;  // standard and URL-safe alphabets
  if (c == '/' || c == '_') return 63;
  return -1;
}

// Decodes padded base64 of exactly `n` bytes; false on anything else.
bool decode_base64(const std::string& s, std::uint8_t* out, std::size_t n) {
  if (s.size() != (n + 2) / 3 * 4) return false;
  std::size_t written = 0;
  for (std::size_t i = 0; i < s.size(); i += 4) {
    std::uint32_t group = 0;
    int pad = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int d = 0;
      if (s[i + k] == '=') {
        ++pad;
      } else {
        if (pad) return false;
        d = base64_value(s[i + k]);
        if (d < 0) return false;
      }
      group = (group << 6) | static_cast<std::uint32_t>(d);
    }
    for (int k = 0; k < 3 - pad; ++k) {
      if (written == n) return false;
      out[written++] = static_cast<std::uint8_t>(group >> (16 - 8 * k));
    }
  }
  return written == n;
}

trace_id read_trace_id(const json& span, const std::string& where) {
  const auto text = string_member(span, "traceId", where);
  if (text.empty()) fail(where + ".traceId", "missing");
  if (auto id = trace_id::from_hex(text)) return *id;
  trace_id id;
  if (decode_base64(text, id.bytes.data(), id.bytes.size()) && id.valid()) return id;
  fail(where + ".traceId", "expected 32 hex characters of a non-zero id, got " + snippet(text));
}

// An empty or absent id gives the invalid (zero) id: a root span's parent.
span_id read_span_id(const json& span, const char* key, const std::string& where, bool required) {
  const auto text = string_member(span, key, where);
  if (text.empty()) {
    if (required) fail(where + "." + key, "missing");
    return {};
  }
  if (auto id = span_id::from_hex(text)) return *id;
  std::uint8_t bytes[8];
  if (decode_base64(text, bytes, 8)) {
    std::uint64_t v = 0;
    for (auto b : bytes) v = (v << 8) | b;
    if (v != 0) return span_id{v};
  }
  fail(where + "." + key, "expected 16 hex characters of a non-zero id, got " + snippet(text));
}

// span_record holds arrays of strings only. A stringValue item is read as
// its string; any other item (a number, a bool, a nested array or kvlist)
// as the JSON text of its AnyValue, e.g. {"intValue":"3"}: nothing is lost
// and the attribute stays an array, at the price that such an item cannot
// be told from a string holding the same text. The line's depth was
// bounded before parsing, so dumping a nested item is safe.
attribute_value read_array_value(const json& array_value, const std::string& where) {
  as_object(array_value, where);
  const auto& values = array_member(array_value, "values", where);
  std::vector<std::string> items;
  items.reserve(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto at = where + ".values[" + std::to_string(i) + "]";
    const auto& item = as_object(values[i], at);
    // AnyValue is a oneof, so a stringValue is the item whatever else the
    // object holds; unknown fields are ignored here as everywhere.
    if (const json* str = member(item, "stringValue")) {
      if (!str->is_string()) fail(at + ".stringValue", "expected a string");
      items.push_back(str->get<std::string>());
    } else {
      items.push_back(item.dump(-1, ' ', false, json::error_handler_t::replace));
    }
  }
  return items;
}

attribute_value read_any_value(const json& value, const std::string& where) {
  as_object(value, where);
  if (auto v = member(value, "stringValue")) {
    if (!v->is_string()) fail(where + ".stringValue", "expected a string");
    return v->get<std::string>();
  }
  if (auto v = member(value, "boolValue")) {
    if (!v->is_boolean()) fail(where + ".boolValue", "expected true or false");
    return v->get<bool>();
  }
  if (auto v = member(value, "intValue")) return read_i64(*v, where + ".intValue");
  if (auto v = member(value, "doubleValue")) return read_double(*v, where + ".doubleValue");
  if (auto v = member(value, "arrayValue")) return read_array_value(*v, where + ".arrayValue");
  // kvlistValue, bytesValue or an empty value: span_record cannot hold
  // them, so keep the JSON text rather than drop it.
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<attribute> read_attributes(const json& object, const std::string& where) {
  std::vector<attribute> out;
  const auto& list = array_member(object, "attributes", where);
  out.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto at = where + ".attributes[" + std::to_string(i) + "]";
    const auto& kv = as_object(list[i], at);
    attribute a;
    a.key = string_member(kv, "key", at);
    const json* v = member(kv, "value");
    a.value = v ? read_any_value(*v, at + ".value") : attribute_value{std::string()};
    out.push_back(std::move(a));
  }
  return out;
}

resource_info read_resource(const json& resource_spans, const std::string& where) {
  resource_info info;
  info.service_name.clear();
  const json* resource = member(resource_spans, "resource");
  if (!resource) return info;
  const auto at = where + ".resource";
  for (auto& a : read_attributes(as_object(*resource, at), at)) {
    auto* s = std::get_if<std::string>(&a.value);
    if (!s) continue;
    if (a.key == "service.name") info.service_name = *s;
    else if (a.key == "service.version") info.service_version = *s;
  }
  return info;
}

span_record read_span(const json& span, const std::string& where) {
  as_object(span, where);
  span_record s;
  s.trace = read_trace_id(span, where);
  s.id = read_span_id(span, "spanId", where, true);
  s.trace_state = string_member(span, "traceState", where);
  s.parent = read_span_id(span, "parentSpanId", where, false);
  s.name = string_member(span, "name", where);
  if (auto v = member(span, "kind"))
    s.kind = static_cast<span_kind>(
        read_enum(*v, where + ".kind",
                  {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
                   "SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"}));
  else s.kind = span_kind::unspecified;
  if (auto v = member(span, "startTimeUnixNano"))
    s.start_unix_ns = read_u64(*v, where + ".startTimeUnixNano");
  if (auto v = member(span, "endTimeUnixNano"))
    s.end_unix_ns = read_u64(*v, where + ".endTimeUnixNano");
  s.attributes = read_attributes(span, where);
  const auto& events = array_member(span, "events", where);
  s.events.reserve(events.size());
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto at = where + ".events[" + std::to_string(i) + "]";
    const auto& e = as_object(events[i], at);
    span_event ev;
    if (auto t = member(e, "timeUnixNano")) ev.time_unix_ns = read_u64(*t, at + ".timeUnixNano");
    ev.name = string_member(e, "name", at);
    ev.attributes = read_attributes(e, at);
    s.events.push_back(std::move(ev));
  }
  if (auto status = member(span, "status")) {
    const auto at = where + ".status";
    as_object(*status, at);
    if (auto code = member(*status, "code"))
      s.status = static_cast<status_code>(read_enum(
          *code, at + ".code", {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"}));
    s.status_message = string_member(*status, "message", at);
  }
  return s;
}

struct decoded_request {
  std::vector<resource_info> resources;
  std::vector<std::pair<span_record, std::size_t>> spans;  // span, resource index
};

// OTLP nests about 12 levels deep, plus 3 per level of a nested arrayValue
// or kvlistValue. nlohmann parses any depth without recursion, but dumping
// and walking a value recurse, so a line nested deeper than this is refused
// before it is parsed (DESIGN invariant 6).
constexpr std::size_t max_json_depth = 128;

// Throws when `line` nests objects and arrays deeper than max_json_depth.
// Brackets inside strings do not count; the JSON parser judges the rest.
void check_depth(std::string_view line) {
  std::size_t depth = 0;
  bool in_string = false, escaped = false;
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_json_depth)
        throw read_failure{"JSON nested more than " + std::to_string(max_json_depth) +
                           " levels deep at column " + std::to_string(i + 1) +
                           " (a deeply nested arrayValue or kvlistValue?); line skipped"};
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

// Decodes all spans of a request before any is handed out, so that a bad
// line is rejected as a whole.
decoded_request read_request(std::string_view line) {
  check_depth(line);
  json root;
  try {
    root = json::parse(line);
  } catch (const json::parse_error& e) {
    // e.what() starts with "[json.exception.parse_error.N] "; keep the rest.
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what.erase(0, p + 2);
    throw read_failure{"invalid JSON: " + what};
  }
  as_object(root, "request");
  decoded_request out;
  const auto& rs_list = array_member(root, "resourceSpans", "request");
  for (std::size_t r = 0; r < rs_list.size(); ++r) {
    const auto rs_at = "resourceSpans[" + std::to_string(r) + "]";
    const auto& rs = as_object(rs_list[r], rs_at);
    out.resources.push_back(read_resource(rs, rs_at));
    const auto& ss_list = array_member(rs, "scopeSpans", rs_at);
    for (std::size_t s = 0; s < ss_list.size(); ++s) {
      const auto ss_at = rs_at + ".scopeSpans[" + std::to_string(s) + "]";
      const auto& span_list = array_member(as_object(ss_list[s], ss_at), "spans", ss_at);
      for (std::size_t i = 0; i < span_list.size(); ++i)
        out.spans.emplace_back(read_span(span_list[i], ss_at + ".spans[" + std::to_string(i) + "]"),
                               r);
    }
  }
  return out;
}

}  // namespace

bool read_otlp_json_line(std::string_view line, const otlp_span_callback& on_span,
                         std::string* error) {
  decoded_request request;
  try {
    request = read_request(line);
  } catch (const read_failure& f) {
    if (error) *error = f.message;
    return false;
  } catch (const std::exception& e) {
    // nlohmann type errors and the like: unexpected, but never fatal.
    if (error) *error = e.what();
    return false;
  }
  // Outside the try: an exception from the callback is the caller's own.
  for (auto& [span, r] : request.spans) on_span(std::move(span), request.resources[r]);
  return true;
}

std::vector<span_record> read_otlp_json_line(std::string_view line, std::string* error,
                                             resource_info* resource) {
  std::vector<span_record> out;
  bool have_resource = false;
  const bool ok = read_otlp_json_line(
      line,
      [&](span_record&& s, const resource_info& r) {
        if (resource && !have_resource) *resource = r, have_resource = true;
        out.push_back(std::move(s));
      },
      error);
  if (!ok) out.clear();
  return out;
}

otlp_file_summary read_otlp_json_file(const std::string& path, const otlp_span_callback& on_span) {
  otlp_file_summary summary;
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!file) {
    summary.open_error =
        "cannot open trace file '" + path + "': " + std::generic_category().message(errno);
    return summary;
  }
  // POSIX getline: one growing buffer, any line length, fast on big files.
  char* buf = nullptr;
  std::size_t cap = 0;
  std::size_t line_no = 0;
  ssize_t len;
  errno = 0;
  while ((len = ::getline(&buf, &cap, file.get())) >= 0) {
    ++line_no;
    std::string_view line(buf, static_cast<std::size_t>(len));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    ++summary.lines;
    std::string error;
    std::size_t count = 0;
    const bool ok = read_otlp_json_line(
        line,
        [&](span_record&& s, const resource_info& r) {
          ++count;
          on_span(std::move(s), r);
        },
        &error);
    if (ok) {
      summary.spans += count;
    } else {
      ++summary.bad_lines;
      if (summary.errors.size() < otlp_file_summary::max_reported_errors)
        summary.errors.push_back({line_no, path + ":" + std::to_string(line_no) + ": " + error});
    }
  }
  const int read_errno = errno;
  const bool read_failed = std::ferror(file.get()) != 0;
  std::free(buf);
  if (read_failed)
    summary.open_error = "error reading trace file '" + path + "' after line " +
                         std::to_string(line_no) + ": " +
                         std::generic_category().message(read_errno);
  return summary;
}

otlp_file_summary read_otlp_json_file(const std::string& path, std::vector<span_record>& spans) {
  return read_otlp_json_file(
      path, [&spans](span_record&& s, const resource_info&) { spans.push_back(std::move(s)); });
}

}  // namespace weft::tracing
