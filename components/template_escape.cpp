#include "components/template_escape.hpp"

#include <cctype>

#include "net/json_text.hpp"

namespace weft::components {

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string json_string_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  net::append_json_escaped(out, s);
  return out;
}

std::string escape_for(escaping e, std::string_view s) {
  switch (e) {
    case escaping::url:
      return percent_encode(s);
    case escaping::json:
      return json_string_escape(s);
    case escaping::none:
      break;
  }
  return std::string{s};
}

namespace {

bool contains_nocase(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size() && std::tolower(static_cast<unsigned char>(hay[i + k])) == needle[k])
      ++k;
    if (k == needle.size()) return true;
  }
  return false;
}

}  // namespace

escaping body_escaping(std::string_view content_type, bool has_content_type,
                       std::string_view body_template) {
  if (has_content_type) {
    if (contains_nocase(content_type, "json")) return escaping::json;
    if (contains_nocase(content_type, "x-www-form-urlencoded")) return escaping::url;
    return escaping::none;
  }
  auto first = body_template.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos &&
      (body_template[first] == '{' || body_template[first] == '['))
    return escaping::json;
  return escaping::none;
}

std::size_t header_breaker(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3));
}

}  // namespace weft::components
