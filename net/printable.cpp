#include "net/printable.hpp"

namespace weft::net {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 when it is not one
// (overlong forms and surrogates included).
std::size_t utf8_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k)
    if ((b(k) & 0xC0) != 0x80) return 0;
  if (n == 3 && ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0))) return 0;
  if (n == 4 && ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) >= 0x90))) return 0;
  return n;
}

constexpr char hex[] = "0123456789abcdef";

// The authority of an absolute URL: [start, end) after "scheme://".
bool authority_of(std::string_view url, std::size_t& start, std::size_t& end) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return false;
  start = scheme_end + 3;
  end = url.find_first_of("/?#", start);
  if (end == std::string_view::npos) end = url.size();
  return true;
}

}  // namespace

std::string printable(std::string_view text, std::size_t max_bytes) {
  const bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7F) {
      if (c == '\\') out += '\\';
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    if (c == '\n' || c == '\r' || c == '\t') {
      out += c == '\n' ? "\\n" : c == '\r' ? "\\r" : "\\t";
      ++i;
      continue;
    }
    if (c >= 0x80) {
      if (auto n = utf8_length(text, i); n != 0) {
        // U+0080..U+009F are the C1 controls (0x9B is a CSI to some terminals).
        const auto next = static_cast<unsigned char>(text[i + 1]);
        if (n == 2 && c == 0xC2 && next < 0xA0) {
          out += "\\u00";
          out += hex[next >> 4];
          out += hex[next & 15];
        } else {
          out.append(text.substr(i, n));
        }
        i += n;
        continue;
      }
    }
    out += "\\x";
    out += hex[c >> 4];
    out += hex[c & 15];
    ++i;
  }
  if (cut) out += "...";
  return out;
}

std::string_view url_userinfo(std::string_view url) {
  std::size_t start = 0, end = 0;
  if (!authority_of(url, start, end)) return {};
  auto at = url.substr(start, end - start).rfind('@');
  if (at == std::string_view::npos) return {};
  return url.substr(start, at);
}

std::string redact_userinfo(std::string_view url) {
  auto info = url_userinfo(url);
  if (info.empty()) return std::string(url);
  const auto start = static_cast<std::size_t>(info.data() - url.data());
  return std::string(url.substr(0, start)) + "***" + std::string(url.substr(start + info.size()));
}

std::string display_url(std::string_view url) {
  auto scheme_end = url.find("://");
  auto host_start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto path_start = url.find_first_of("/?#", host_start);
  auto authority =
      url.substr(host_start, path_start == std::string_view::npos ? std::string_view::npos
                                                                  : path_start - host_start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  auto rest = path_start == std::string_view::npos ? std::string_view() : url.substr(path_start);
  if (auto q = rest.find_first_of("?#"); q != std::string_view::npos) rest = rest.substr(0, q);
  return std::string(url.substr(0, host_start)) + std::string(authority) + std::string(rest);
}

}  // namespace weft::net
