#include "flows/yaml_reader.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <sstream>

#include "flows/names.hpp"

namespace weft::flows {
namespace {

// Flow-bracket nesting at which the text scan gives up. yaml-cpp has its own
// guard (2000 levels, reported as a "bad file" at 1:1); this one answers
// first, with a useful position, and does not depend on the yaml-cpp
// version. It is far above max_yaml_depth because a bracket inside a plain
// scalar ("a[b") is text, not nesting, and should not trip it.
constexpr int max_scan_depth = 1000;

const std::string tag_prefix = "tag:yaml.org,2002:";

void add(diagnostics& errs, source_loc loc, std::string message) {
  errs.push_back({std::move(loc), std::move(message)});
}

// --- the text, before yaml-cpp sees it --------------------------------------

// Length of the UTF-8 sequence at s[i], or 0 if it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  std::uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1f) : n == 3 ? (c & 0x0f) : (c & 0x07);
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(i + k) >> 6) != 0x2) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3f);
  }
  static constexpr std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min_for_length[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

// Checks what yaml-cpp should never have to cope with: oversized text,
// invalid UTF-8 (strings must survive being dumped as JSON later), control
// characters, and flow brackets nested deep enough to recurse far.
bool scan_text(std::string_view text, const std::string& file, diagnostics& errs) {
  if (text.size() > max_flow_bytes) {
    add(errs, {file, 1, 1},
        "flow text is " + std::to_string(text.size()) + " bytes; the limit is " +
            std::to_string(max_flow_bytes) + " bytes");
    return false;
  }
  int line = 1, col = 1, depth = 0;
  char open_quote = 0;   // the open quote character, if inside a quoted scalar
  bool comment = false;  // inside a comment, up to the end of the line
  char prev = '\n';
  for (std::size_t i = 0; i < text.size();) {
    char c = text[i];
    std::size_t n = utf8_length(text, i);
    if (n == 0) {
      add(errs, {file, line, col}, "invalid UTF-8 byte sequence; flow files must be UTF-8");
      return false;
    }
    auto u = static_cast<unsigned char>(c);
    if (n == 1 && ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7f)) {
      add(errs, {file, line, col},
          "control character " + quote(std::string_view(&text[i], 1)) + " is not allowed");
      return false;
    }
    if (comment) {
      comment = c != '\n';
    } else if (open_quote) {
      if (c == '\\' && open_quote == '"' && i + 1 < text.size() && text[i + 1] != '\n') {
        i += 1;  // skip the escaped character (ASCII in every escape that matters)
        col += 1;
      } else if (c == open_quote) {
        open_quote = 0;  // '' inside single quotes closes and reopens: same result
      }
    } else if (c == '#' && (prev == ' ' || prev == '\t' || prev == '\n')) {
      comment = true;
    } else if ((c == '\'' || c == '"') &&
               (prev == ' ' || prev == '\t' || prev == '\n' || prev == '[' || prev == '{' ||
                prev == ',' || prev == ':')) {
      open_quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > max_scan_depth) {
        add(errs, {file, line, col},
            "brackets nested more than " + std::to_string(max_scan_depth) +
                " levels deep; flow documents may nest at most " +
                std::to_string(max_yaml_depth) + " levels");
        return false;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    prev = c;
    if (c == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
    i += n;
  }
  return true;
}

// --- the tree, after yaml-cpp built it --------------------------------------

bool is_standard_tag(const std::string& tag) {
  // "?" marks a plain scalar (or untagged collection), "!" a quoted one.
  if (tag.empty() || tag == "?" || tag == "!") return true;
  if (tag.rfind(tag_prefix, 0) != 0) return false;
  static const std::set<std::string, std::less<>> known = {"str", "int",  "float", "bool",
                                                           "null", "map", "seq"};
  return known.count(std::string_view(tag).substr(tag_prefix.size())) > 0;
}

std::string short_tag(const std::string& tag) {
  return tag.rfind(tag_prefix, 0) == 0 ? "!!" + tag.substr(tag_prefix.size()) : tag;
}

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// One walk over the whole tree that checks what load_yaml promises. It stops
// descending at max_yaml_depth and counts nodes against max_yaml_nodes, so it
// is itself safe on cyclic and exponentially aliased trees.
class tree_checker {
 public:
  tree_checker(const std::string& file, diagnostics& errs) : file_(file), errs_(errs) {}

  // False when the tree is unsafe to walk (too deep, too large).
  bool check(const YAML::Node& root) {
    walk(root, 1, "");
    return !too_deep_ && !too_large_;
  }

 private:
  void walk(const YAML::Node& n, int depth, const std::string& path) {
    if (too_large_ || too_deep_) return;
    if (++count_ > max_yaml_nodes) {
      too_large_ = true;
      add(errs_, loc_of(n, file_),
          "document expands to more than " + std::to_string(max_yaml_nodes) +
              " nodes (too large, or aliases that multiply)");
      return;
    }
    if (!is_standard_tag(n.Tag()) && reported_tags_.insert(n.Mark().pos).second) {
      add(errs_, loc_of(n, file_),
          "unsupported tag " + quote(short_tag(n.Tag())) +
              "; only !!str, !!int, !!float, !!bool, !!null, !!map and !!seq are allowed");
    }
    if (!n.IsMap() && !n.IsSequence()) return;
    if (depth > max_yaml_depth) {
      too_deep_ = true;
      add(errs_, loc_of(n, file_),
          "nesting deeper than " + std::to_string(max_yaml_depth) +
              " levels (or an alias that contains itself)");
      return;
    }
    if (n.IsSequence()) {
      std::size_t i = 0;
      for (const YAML::Node& item : n) walk(item, depth + 1, path + "[" + std::to_string(i++) + "]");
      return;
    }
    // An aliased mapping is the same node again: its keys were checked when
    // it was first seen, and reporting them twice would only confuse.
    bool first_visit = checked_maps_.insert(n.Mark().pos).second;
    std::map<std::string, YAML::Mark> seen;
    for (auto it = n.begin(); it != n.end(); ++it) {
      // Copies, not references: `it->` yields a temporary that a reference
      // would outlive.
      YAML::Node key = it->first, val = it->second;
      if (!key.IsScalar()) {
        if (first_visit)
          add(errs_, loc_of(key, file_),
              std::string{"mapping keys must be strings, not "} + kind_of(key) +
                  (path.empty() ? std::string{" (at top level)"} : " (in " + path + ")"));
        continue;
      }
      auto [prior, inserted] = seen.emplace(key.Scalar(), key.Mark());
      if (!inserted) {
        if (first_visit) report_duplicate(key, prior->second, path);
        continue;
      }
      walk(val, depth + 1, child_path(path, key.Scalar()));
    }
  }

  void report_duplicate(const YAML::Node& key, const YAML::Mark& first, const std::string& path) {
    std::string where = "first defined at line " + std::to_string(first.line + 1);
    if (path == "nodes") {
      add(errs_, loc_of(key, file_),
          "duplicate node id " + quote(key.Scalar()) + "; " + where + "; node ids must be unique");
    } else {
      add(errs_, loc_of(key, file_),
          "duplicate key " + quote(key.Scalar()) +
              (path.empty() ? std::string{" at top level"} : " in " + path) + "; " + where);
    }
  }

  const std::string& file_;
  diagnostics& errs_;
  std::size_t count_ = 0;
  bool too_deep_ = false;
  bool too_large_ = false;
  std::set<std::size_t> checked_maps_;   // by position: aliases share it
  std::set<std::size_t> reported_tags_;  // likewise
};

// --- scalars -----------------------------------------------------------------

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
      add(errs_, loc_of(n, file_), "nesting deeper than " + std::to_string(max_yaml_depth) + " levels");
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

source_loc loc_of(const YAML::Mark& m, const std::string& file) {
  if (m.line < 0 || m.column < 0) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

source_loc loc_of(const YAML::Node& n, const std::string& file) {
  return n.IsDefined() ? loc_of(n.Mark(), file) : source_loc{file, 0, 0};
}

const char* kind_of(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Sequence: return "a sequence";
    case YAML::NodeType::Scalar: return "a scalar";
    default: return "nothing";
  }
}

std::optional<YAML::Node> load_yaml(std::string_view text, const std::string& file,
                                    diagnostics& errs) {
  if (!scan_text(text, file, errs)) return std::nullopt;
  std::vector<YAML::Node> docs;
  try {
    std::istringstream in{std::string(text)};
    docs = YAML::LoadAll(in);
  } catch (const YAML::DeepRecursion& e) {
    add(errs, loc_of(e.mark, file),
        "nesting deeper than " + std::to_string(max_yaml_depth) + " levels");
    return std::nullopt;
  } catch (const YAML::Exception& e) {
    add(errs, loc_of(e.mark, file), "YAML syntax error: " + e.msg);
    return std::nullopt;
  }
  if (docs.empty()) return YAML::Node{};  // only comments, or nothing at all
  if (docs.size() > 1) {
    add(errs, loc_of(docs[1], file),
        "found " + std::to_string(docs.size()) +
            " YAML documents; a flow file holds exactly one");
    return std::nullopt;
  }
  tree_checker checker{file, errs};
  if (!checker.check(docs[0])) return std::nullopt;
  return docs[0];
}

std::optional<value> to_value(const YAML::Node& n, const std::string& file, diagnostics& errs,
                              const std::string& path, const string_hook& on_string) {
  return value_converter{file, errs, on_string}.convert(n, path, 1);
}

void for_each_entry(
    const YAML::Node& m,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f) {
  if (!m.IsMap()) return;
  std::set<std::string, std::less<>> seen;
  for (auto it = m.begin(); it != m.end(); ++it) {
    YAML::Node key = it->first, val = it->second;  // copies: `it->` is a temporary
    if (!key.IsScalar() || !seen.insert(key.Scalar()).second) continue;
    f(key.Scalar(), key, val);
  }
}

}  // namespace weft::flows
