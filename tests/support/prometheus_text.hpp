// A parser for the Prometheus text exposition format 0.0.4, for tests that
// check what GET /metrics says. It is stricter than Prometheus where being
// strict catches our bugs: every sample must belong to the family of the
// TYPE line before it (no untyped samples), a family's lines must be one
// group, and the same series may not appear twice. Errors name the line:
// "line 7: bad label syntax (expected '=' after label name 'flow'): ...".
//
//   auto r = prometheus::parse(body);
//   REQUIRE(r.error == "");
//   CHECK(prometheus::sample_value(r.doc, "weft_runs_total",
//                                  {{"flow", "echo"}, {"status", "ok"}}) == 3);
#pragma once

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace weft::test::prometheus {

using label_map = std::map<std::string, std::string>;

struct family {
  std::string name;
  std::string type;  // counter, gauge, histogram, summary or untyped
  std::string help;  // unescaped; empty when there was no HELP line
};

struct sample {
  std::string name;    // as written: "x_bucket" for a bucket of family "x"
  std::string family;  // the family that it belongs to
  label_map labels;    // unescaped values
  double value = 0;
};

struct parsed {
  std::vector<family> families;  // in the order of the text
  std::vector<sample> samples;   // in the order of the text
};

struct parse_result {
  parsed doc;
  std::string error;  // empty when the whole text parsed
  explicit operator bool() const { return error.empty(); }
};

/// `name{a="x",b="y"}`, escaped as in the format, for messages.
inline std::string to_string(std::string_view name, const label_map& labels) {
  std::string s(name);
  if (labels.empty()) return s;
  s += '{';
  for (const auto& [k, v] : labels) {
    if (s.back() != '{') s += ',';
    s += k + "=\"";
    for (char c : v) {
      if (c == '\\' || c == '"') s += '\\';
      if (c == '\n') {
        s += "\\n";
        continue;
      }
      s += c;
    }
    s += '"';
  }
  return s + '}';
}

namespace detail {

inline bool is_name_start(char c, bool metric) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}
inline bool is_name_char(char c, bool metric) {
  return is_name_start(c, metric) || (c >= '0' && c <= '9');
}
inline bool is_blank(char c) { return c == ' ' || c == '\t'; }

// Thrown inside parse() only, and turned into parse_result::error there.
struct line_error {
  std::string what;
};

class line_reader {
 public:
  explicit line_reader(std::string_view line) : s_(line) {}

  bool done() const { return pos_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[pos_]; }
  bool eat(char c) {
    if (done() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  std::size_t skip_blanks() {
    std::size_t n = 0;
    while (!done() && is_blank(s_[pos_])) ++pos_, ++n;
    return n;
  }
  std::string_view rest() const { return s_.substr(std::min(pos_, s_.size())); }

  std::string name(bool metric, std::string_view what) {
    std::size_t start = pos_;
    if (!is_name_start(peek(), metric)) fail("bad " + std::string(what) + " at column " + column());
    while (!done() && is_name_char(s_[pos_], metric)) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  std::string token() {
    std::size_t start = pos_;
    while (!done() && !is_blank(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }

  // {name="value",...} with an optional trailing comma; `pos_` is at '{'.
  label_map labels() {
    label_map out;
    ++pos_;
    for (;;) {
      skip_blanks();
      if (eat('}')) return out;
      if (!is_name_start(peek(), false))
        fail("bad label syntax (expected a label name or '}' at column " + column() + ")");
      auto key = name(false, "label name");
      skip_blanks();
      if (!eat('=')) fail("bad label syntax (expected '=' after label name '" + key + "')");
      skip_blanks();
      if (!eat('"')) fail("bad label syntax (expected '\"' to open the value of '" + key + "')");
      std::string value;
      for (;;) {
        if (done()) fail("bad label syntax (unterminated value of '" + key + "')");
        char c = s_[pos_++];
        if (c == '"') break;
        if (c != '\\') {
          value += c;
          continue;
        }
        char e = done() ? '\0' : s_[pos_++];
        if (e == '\\' || e == '"') value += e;
        else if (e == 'n') value += '\n';
        else fail("bad label syntax (unknown escape in the value of '" + key + "')");
      }
      if (!out.emplace(key, std::move(value)).second)
        fail("bad label syntax (label '" + key + "' given twice)");
      skip_blanks();
      if (eat(',')) continue;
      if (eat('}')) return out;
      fail("bad label syntax (expected ',' or '}' after the value of '" + key + "')");
    }
  }

  [[noreturn]] static void fail(std::string what) { throw line_error{std::move(what)}; }

 private:
  std::string column() const { return std::to_string(pos_ + 1); }

  std::string_view s_;
  std::size_t pos_ = 0;
};

// Go's ParseFloat as Prometheus uses it, minus hex floats.
inline bool parse_double(std::string_view t, double& out) {
  if (t == "+Inf" || t == "Inf") return out = std::numeric_limits<double>::infinity(), true;
  if (t == "-Inf") return out = -std::numeric_limits<double>::infinity(), true;
  if (t == "NaN") return out = std::numeric_limits<double>::quiet_NaN(), true;
  if (!t.empty() && t[0] == '+') t.remove_prefix(1);
  if (t.empty() || !(t[0] == '-' || t[0] == '.' || (t[0] >= '0' && t[0] <= '9'))) return false;
  auto r = std::from_chars(t.data(), t.data() + t.size(), out);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

inline bool is_integer(std::string_view t) {
  if (!t.empty() && t[0] == '-') t.remove_prefix(1);
  if (t.empty()) return false;
  for (char c : t)
    if (c < '0' || c > '9') return false;
  return true;
}

// The HELP docstring's escapes are \\ and \n only.
inline std::string unescape_help(std::string_view t) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '\\') {
      out += t[i];
    } else if (i + 1 < t.size() && t[i + 1] == '\\') {
      out += '\\', ++i;
    } else if (i + 1 < t.size() && t[i + 1] == 'n') {
      out += '\n', ++i;
    } else {
      line_reader::fail("bad escape in HELP text");
    }
  }
  return out;
}

// Whether a sample named `name` belongs to family `f`.
inline bool belongs(const family& f, std::string_view name) {
  auto is = [&](std::string_view suffix) {
    return name.size() == f.name.size() + suffix.size() &&
           name.substr(0, f.name.size()) == f.name && name.substr(f.name.size()) == suffix;
  };
  if (f.type == "histogram") return is("_bucket") || is("_sum") || is("_count");
  if (f.type == "summary") return is("") || is("_sum") || is("_count");
  return is("");
}

class parser {
 public:
  parse_result run(std::string_view text) {
    parse_result r;
    std::size_t line_no = 0;
    try {
      std::size_t start = 0;
      while (start < text.size()) {
        ++line_no;
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
          current_line_ = text.substr(start);
          line_reader::fail("missing the newline that must end the last line");
        }
        current_line_ = text.substr(start, end - start);
        line(current_line_, r.doc);
        start = end + 1;
      }
    } catch (const line_error& e) {
      std::string shown(current_line_.substr(0, 120));
      r.error = "line " + std::to_string(line_no) + ": " + e.what + ": " + shown;
      r.doc = {};
    }
    return r;
  }

 private:
  void line(std::string_view text, parsed& doc) {
    line_reader in(text);
    in.skip_blanks();
    if (in.done()) return;
    if (in.eat('#')) return comment(in, doc);
    sample_line(in, doc);
  }

  void comment(line_reader& in, parsed& doc) {
    in.skip_blanks();
    auto keyword = in.token();
    if (keyword != "HELP" && keyword != "TYPE") return;  // a plain comment
    if (in.skip_blanks() == 0) line_reader::fail("expected a metric name after " + keyword);
    auto name = in.name(true, "metric name");
    auto& f = family_for(name, doc);
    if (keyword == "HELP") {
      if (seen_help_.count(name)) line_reader::fail("second HELP for '" + name + "'");
      seen_help_.insert(name);
      if (!in.done() && in.skip_blanks() == 0) line_reader::fail("bad metric name in HELP");
      f.help = unescape_help(in.rest());
      return;
    }
    if (!f.type.empty()) line_reader::fail("second TYPE for '" + name + "'");
    if (in.skip_blanks() == 0)
      line_reader::fail(in.done() ? "TYPE without a type" : "bad metric name in TYPE");
    auto type = in.token();
    in.skip_blanks();
    if (!in.done()) line_reader::fail("unexpected text after the TYPE");
    if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
        type != "untyped")
      line_reader::fail("unknown TYPE '" + type + "'");
    f.type = type;
  }

  // The family that a HELP or TYPE line names: the current one, or a new one.
  family& family_for(const std::string& name, parsed& doc) {
    if (!doc.families.empty() && doc.families.back().name == name) return doc.families.back();
    for (const auto& f : doc.families)
      if (f.name == name) line_reader::fail("the lines of family '" + name + "' are not one group");
    doc.families.push_back({name, "", ""});
    return doc.families.back();
  }

  void sample_line(line_reader& in, parsed& doc) {
    sample s;
    s.name = in.name(true, "metric name");
    if (in.peek() == '{') s.labels = in.labels();
    if (in.skip_blanks() == 0) line_reader::fail("expected a blank before the value");
    auto value = in.token();
    if (!parse_double(value, s.value)) line_reader::fail("non-numeric value '" + value + "'");
    if (in.skip_blanks() > 0 && !in.done()) {
      auto ts = in.token();
      if (!is_integer(ts)) line_reader::fail("bad timestamp '" + ts + "'");
      in.skip_blanks();
    }
    if (!in.done()) line_reader::fail("unexpected text after the value");

    if (doc.families.empty() || doc.families.back().type.empty() ||
        !belongs(doc.families.back(), s.name))
      line_reader::fail("sample '" + s.name + "' has no matching TYPE family before it");
    const auto& f = doc.families.back();
    s.family = f.name;
    if (f.type == "histogram" && s.name == f.name + "_bucket") {
      auto le = s.labels.find("le");
      double bound = 0;
      if (le == s.labels.end() || !parse_double(le->second, bound))
        line_reader::fail("histogram bucket without a numeric 'le' label");
    }
    if (!series_.insert(to_string(s.name, s.labels)).second)
      line_reader::fail("series " + to_string(s.name, s.labels) + " appears twice");
    doc.samples.push_back(std::move(s));
  }

  std::string_view current_line_;
  std::set<std::string> seen_help_;
  std::set<std::string> series_;
};

}  // namespace detail

/// Parses a whole exposition; on the first bad line, `error` names it and
/// `doc` is empty.
inline parse_result parse(std::string_view text) { return detail::parser{}.run(text); }

/// The family called `name`, or nullptr.
inline const family* find_family(const parsed& doc, std::string_view name) {
  for (const auto& f : doc.families)
    if (f.name == name) return &f;
  return nullptr;
}

/// The samples called `name` (e.g. "x_bucket"), in text order.
inline std::vector<const sample*> samples_named(const parsed& doc, std::string_view name) {
  std::vector<const sample*> out;
  for (const auto& s : doc.samples)
    if (s.name == name) out.push_back(&s);
  return out;
}

/// The sample with exactly this name and label set, or nullptr.
inline const sample* find_sample(const parsed& doc, std::string_view name,
                                 const label_map& labels) {
  for (const auto& s : doc.samples)
    if (s.name == name && s.labels == labels) return &s;
  return nullptr;
}

/// The value of the sample with exactly this name and label set. Throws
/// std::runtime_error, listing the samples of that name, when there is none:
/// a test that asks for a series expects it to exist.
inline double sample_value(const parsed& doc, std::string_view name, const label_map& labels) {
  if (const auto* s = find_sample(doc, name, labels)) return s->value;
  std::string msg =
      "no sample " + to_string(name, labels) + "; samples named " + std::string(name) + ":";
  auto same = samples_named(doc, name);
  if (same.empty()) msg += " none";
  for (std::size_t i = 0; i < same.size() && i < 20; ++i)
    msg += "\n  " + to_string(same[i]->name, same[i]->labels);
  throw std::runtime_error(msg);
}

}  // namespace weft::test::prometheus
