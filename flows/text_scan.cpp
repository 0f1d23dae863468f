#include "flows/text_scan.hpp"

#include <cstdint>

#include "flows/flow_limits.hpp"
#include "flows/names.hpp"

namespace weft::flows {
namespace {

// Nesting at which the text scan gives up, counting flow brackets and the
// `- `/`? ` indicators that open a collection each at the start of a line.
// yaml-cpp has its own guard (2000 levels, reported as a "bad file" at 1:1),
// but parsing that deep costs time on every bad input; this one answers
// first, with a useful position, and does not depend on the yaml-cpp
// version. It is well above max_yaml_depth because a bracket inside a plain
// scalar ("a[b") is text, not nesting, and should not trip it.
constexpr int max_scan_depth = 256;

void add(diagnostics& errs, source_loc loc, std::string message) {
  errs.push_back({std::move(loc), std::move(message)});
}

// Length of the UTF-8 sequence at s[i], or 0 if it is not valid UTF-8
// (overlong forms, surrogates and code points past U+10FFFF included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xe  ? 3
                  : (c >> 3) == 0x1e ? 4
                                     : 0;
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

bool is_marker(std::string_view line, std::string_view marker) {
  return line.substr(0, 3) == marker && (line.size() == 3 || line[3] == ' ' || line[3] == '\t');
}

}  // namespace

bool check_flow_text(std::string_view text, const std::string& file, diagnostics& errs) {
  if (text.size() > max_flow_bytes) {
    add(errs, {file, 1, 1},
        "flow text is " + std::to_string(text.size()) + " bytes; the limit is " +
            std::to_string(max_flow_bytes) + " bytes");
    return false;
  }
  int line = 1, col = 1, depth = 0;
  char open_quote = 0;    // the open quote character, if inside a quoted scalar
  bool comment = false;   // inside a comment, up to the end of the line
  bool line_head = true;  // only indentation and indicators so far on this line
  int indicators = 0;     // `- ` and `? ` seen at the head of this line
  char prev = '\n';
  auto too_deep = [&](const char* what) {
    add(errs, {file, line, col},
        std::string{what} + " nested more than " + std::to_string(max_scan_depth) +
            " levels deep; flow documents may nest at most " + std::to_string(max_yaml_depth) +
            " levels");
    return false;
  };
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
    if (line_head && !comment && !open_quote && c != ' ' && c != '\t') {
      bool indicator = (c == '-' || c == '?') && i + 1 < text.size() &&
                       (text[i + 1] == ' ' || text[i + 1] == '\t');
      if (indicator && ++indicators > max_scan_depth) return too_deep("'- ' and '? ' indicators");
      line_head = indicator;
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
      if (++depth > max_scan_depth) return too_deep("brackets");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    prev = c;
    if (c == '\n') {
      ++line;
      col = 1;
      line_head = true;
      indicators = 0;
    } else {
      ++col;
    }
    i += n;
  }
  return true;
}

document_scan scan_documents(std::string_view text) {
  document_scan scan;
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);
  bool in_document = false, first_content_seen = false;
  int line_no = 0;
  auto open_document = [&] {
    if (++scan.count == 2) scan.second_line = line_no;
    in_document = true;
  };
  // Notes where the first document's content starts, if it is a ',' (tags
  // and anchors before it do not change that).
  auto note_content = [&](std::string_view rest, std::size_t col0) {
    if (first_content_seen || scan.count != 1) return;
    std::size_t i = 0;
    while (i < rest.size()) {
      char c = rest[i];
      if (c == ' ' || c == '\t') {
        ++i;
      } else if (c == '!' || c == '&') {
        while (i < rest.size() && rest[i] != ' ' && rest[i] != '\t' && rest[i] != ',') ++i;
      } else {
        break;
      }
    }
    if (i == rest.size() || rest[i] == '#') return;
    first_content_seen = true;
    if (rest[i] == ',') {
      scan.stray_comma_line = line_no;
      scan.stray_comma_col = static_cast<int>(col0 + i + 1);
    }
  };
  while (!text.empty()) {
    ++line_no;
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (is_marker(line, "---")) {
      open_document();
      note_content(line.substr(3), 3);
      continue;
    }
    if (is_marker(line, "...")) {
      in_document = false;
      continue;
    }
    std::size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    if (!in_document && line[0] == '%') continue;  // a directive
    if (!in_document) open_document();
    note_content(line, 0);
  }
  return scan;
}

}  // namespace weft::flows
