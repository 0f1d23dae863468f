// Writing the Prometheus text exposition format (0.0.4): families, samples
// with escaped label values, and numbers in the format's own spellings.
// Shared by every /metrics series of weft serve.
#pragma once

#include <charconv>
#include <cmath>
#include <initializer_list>
#include <string>
#include <string_view>

namespace weft::serve {

// Appends text in the exposition format's own spellings.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}

  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += help;  // our help texts hold no '\\' or newline to escape
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type;
    out_ += '\n';
  }

  // `labels` alternates names and values; values are escaped here.
  template <class Value>
  void sample(std::string_view name, std::initializer_list<std::string_view> labels, Value v) {
    out_ += name;
    if (labels.size() > 0) {
      out_ += '{';
      for (auto it = labels.begin(); it != labels.end(); it += 2) {
        if (it != labels.begin()) out_ += ',';
        out_ += *it;
        out_ += "=\"";
        escaped(*(it + 1));
        out_ += '"';
      }
      out_ += '}';
    }
    out_ += ' ';
    number(v);
    out_ += '\n';
  }

  static std::string format(double v) {
    std::string s;
    writer(s).number(v);
    return s;
  }

 private:
  void escaped(std::string_view value) {
    for (char c : value) {
      switch (c) {
        case '\\':
          out_ += "\\\\";
          break;
        case '"':
          out_ += "\\\"";
          break;
        case '\n':
          out_ += "\\n";
          break;
        default:
          out_ += c;
      }
    }
  }

  template <class Int>
  void number(Int v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out_.append(buf, r.ptr);
  }

  void number(double v) {
    if (std::isnan(v)) {
      out_ += "NaN";
    } else if (std::isinf(v)) {
      out_ += v > 0 ? "+Inf" : "-Inf";
    } else {
      // Shortest text that reads back as the same double.
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, v);
      out_.append(buf, r.ptr);
    }
  }

  std::string& out_;
};

}  // namespace weft::serve
