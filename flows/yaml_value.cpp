#include "flows/yaml_value.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <set>
#include <string_view>

#include "flows/flow_limits.hpp"
#include "flows/names.hpp"
#include "flows/yaml_reader.hpp"

namespace weft::flows {
namespace {

const std::string tag_prefix = "tag:yaml.org,2002:";

void add(diagnostics& errs, source_loc loc, std::string message) {
  errs.push_back({std::move(loc), std::move(message)});
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

// [-+]?[0-9]+
bool is_int_syntax(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return is_digits(s);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool is_float_syntax(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  std::size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exp = s.substr(e + 1);
    if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) exp.remove_prefix(1);
    if (!is_digits(exp)) return false;
  }
  std::size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return is_digits(mantissa);
  std::string_view whole = mantissa.substr(0, dot), frac = mantissa.substr(dot + 1);
  if (whole.empty()) return is_digits(frac);
  return is_digits(whole) && (frac.empty() || is_digits(frac));
}

std::optional<value> to_number(std::string_view s) {
  std::string_view t = !s.empty() && s[0] == '+' ? s.substr(1) : s;
  const char* end = t.data() + t.size();
  if (is_int_syntax(s)) {
    std::int64_t i = 0;
    if (auto r = std::from_chars(t.data(), end, i); r.ec == std::errc{} && r.ptr == end)
      return value(i);
    std::uint64_t u = 0;
    if (auto r = std::from_chars(t.data(), end, u); r.ec == std::errc{} && r.ptr == end)
      return value(u);
  }
  if (is_float_syntax(s)) {
    double d = 0;
    if (auto r = std::from_chars(t.data(), end, d);
        r.ec == std::errc{} && r.ptr == end && std::isfinite(d))
      return value(d);
  }
  return std::nullopt;
}

bool is_null_word(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

std::optional<bool> to_bool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

class value_converter {
 public:
  value_converter(const std::string& file, diagnostics& errs, const string_hook& hook)
      : file_(file), errs_(errs), hook_(hook) {}

  std::optional<value> convert(const YAML::Node& n, const std::string& path, int depth) {
    // load_yaml bounded the depth already; this keeps a tree that did not
    // come from it from recursing without end.
    if (depth > max_yaml_depth) {
      add(errs_, loc_of(n, file_),
          "nesting deeper than " + std::to_string(max_yaml_depth) + " levels");
      return std::nullopt;
    }
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return value(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(n, path);
      case YAML::NodeType::Sequence: {
        value out = value::array();
        bool ok = true;
        std::size_t i = 0;
        for (const YAML::Node& item : n) {
          auto v = convert(item, path + "[" + std::to_string(i++) + "]", depth + 1);
          if (v) out.push_back(std::move(*v));
          ok = ok && v.has_value();
        }
        return ok ? std::optional<value>(std::move(out)) : std::nullopt;
      }
      case YAML::NodeType::Map: {
        value out = value::object();
        bool ok = true;
        for_each_entry(n, [&](const std::string& k, const YAML::Node&, const YAML::Node& v) {
          auto x = convert(v, child_path(path, k), depth + 1);
          if (x) out[k] = std::move(*x);
          ok = ok && x.has_value();
        });
        return ok ? std::optional<value>(std::move(out)) : std::nullopt;
      }
    }
    return std::nullopt;
  }

 private:
  std::optional<value> scalar(const YAML::Node& n, const std::string& path) {
    const std::string& text = n.Scalar();
    const std::string& tag = n.Tag();
    if (tag == "?") {  // plain: the core schema decides
      if (is_null_word(text)) return value(nullptr);
      if (auto b = to_bool(text)) return value(*b);
      if (auto x = to_number(text)) return x;
      return string(n, path);
    }
    if (tag == tag_prefix + "int" || tag == tag_prefix + "float") {
      auto x = to_number(text);
      if (x && (tag == tag_prefix + "float" || x->is_number_integer())) return x;
      add(errs_, loc_of(n, file_), quote(text) + " is not a valid " + short_tag(tag));
      return std::nullopt;
    }
    if (tag == tag_prefix + "bool") {
      if (auto b = to_bool(text)) return value(*b);
      add(errs_, loc_of(n, file_), quote(text) + " is not a valid !!bool");
      return std::nullopt;
    }
    if (tag == tag_prefix + "null") {
      if (is_null_word(text)) return value(nullptr);
      add(errs_, loc_of(n, file_), quote(text) + " is not a valid !!null");
      return std::nullopt;
    }
    return string(n, path);  // quoted, !!str, or a tag load_yaml reported
  }

  std::optional<value> string(const YAML::Node& n, const std::string& path) {
    std::string text = n.Scalar();
    if (hook_ && !hook_(text, n, path)) return std::nullopt;
    return value(std::move(text));
  }

  const std::string& file_;
  diagnostics& errs_;
  const string_hook& hook_;
};

}  // namespace

bool is_standard_tag(const std::string& tag) {
  // "?" marks a plain scalar (or untagged collection), "!" a quoted one.
  if (tag.empty() || tag == "?" || tag == "!") return true;
  if (tag.rfind(tag_prefix, 0) != 0) return false;
  static const std::set<std::string, std::less<>> known = {"str",  "int", "float", "bool",
                                                           "null", "map", "seq"};
  return known.count(std::string_view(tag).substr(tag_prefix.size())) > 0;
}

std::string short_tag(const std::string& tag) {
  return tag.rfind(tag_prefix, 0) == 0 ? "!!" + tag.substr(tag_prefix.size()) : tag;
}

std::optional<value> to_value(const YAML::Node& n, const std::string& file, diagnostics& errs,
                              const std::string& path, const string_hook& on_string) {
  return value_converter{file, errs, on_string}.convert(n, path, 1);
}

}  // namespace weft::flows
