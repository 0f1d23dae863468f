#include "flows/spec.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

namespace weft::flows {
namespace {

std::optional<std::int64_t> parse_int(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<double> parse_double(std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v))
    return std::nullopt;
  return v;
}

bool equals_ignore_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const char* to_string(value_type t) {
  switch (t) {
    case value_type::string:
      return "string";
    case value_type::number:
      return "number";
    case value_type::integer:
      return "integer";
    case value_type::boolean:
      return "boolean";
    case value_type::object:
      return "object";
    case value_type::array:
      return "array";
    case value_type::any:
      return "any";
  }
  return "any";
}

bool matches(value_type t, const value& v) {
  switch (t) {
    case value_type::string:
      return v.is_string();
    case value_type::number:
      return v.is_number();
    case value_type::integer: {
      if (v.is_number_integer()) return true;
      // JSON has one number type; clients that send 3.0 for 3 are not wrong.
      if (!v.is_number_float()) return false;
      double d = v.get<double>();
      return std::isfinite(d) && std::trunc(d) == d &&
             d >= static_cast<double>(std::numeric_limits<std::int64_t>::min()) &&
             d < static_cast<double>(std::numeric_limits<std::int64_t>::max());
    }
    case value_type::boolean:
      return v.is_boolean();
    case value_type::object:
      return v.is_object();
    case value_type::array:
      return v.is_array();
    case value_type::any:
      return true;
  }
  return false;
}

std::optional<value> convert_text(value_type t, const std::string& text) {
  switch (t) {
    case value_type::string:
      return value(text);
    case value_type::integer:
      if (auto i = parse_int(text)) return value(*i);
      return std::nullopt;
    case value_type::number:
      if (auto i = parse_int(text)) return value(*i);
      if (auto d = parse_double(text)) return value(*d);
      return std::nullopt;
    case value_type::boolean:
      if (equals_ignore_case(text, "true")) return value(true);
      if (equals_ignore_case(text, "false")) return value(false);
      return std::nullopt;
    case value_type::object:
    case value_type::array: {
      value v = value::parse(text, nullptr, /*allow_exceptions=*/false);
      if (v.is_discarded() || !matches(t, v)) return std::nullopt;
      return v;
    }
    case value_type::any: {
      // JSON when it is JSON (42, true, {"a": 1}), the text itself otherwise,
      // so `-i name=World` needs no quotes.
      value v = value::parse(text, nullptr, /*allow_exceptions=*/false);
      if (v.is_discarded()) return value(text);
      return v;
    }
  }
  return std::nullopt;
}

std::string source_ref::to_string() const {
  return from_flow_input ? "$inputs." + socket : node + "." + socket;
}

const node_spec* flow_spec::find_node(std::string_view id) const {
  for (const node_spec& n : nodes)
    if (n.id == id) return &n;
  return nullptr;
}

const input_decl* flow_spec::find_input(std::string_view name) const {
  for (const input_decl& i : inputs)
    if (i.name == name) return &i;
  return nullptr;
}

}  // namespace weft::flows
