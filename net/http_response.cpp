#include "net/http_response.hpp"

#include <cstdio>
#include <ctime>

namespace weft::net {

namespace {

bool equals_nocase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? char(a[i] - 'A' + 'a') : a[i];
    if (x != b[i]) return false;  // b is lower case
  }
  return true;
}

// The headers whose values must agree with the bytes we actually write.
bool is_framing_header(std::string_view name) {
  return equals_nocase(name, "content-length") || equals_nocase(name, "connection") ||
         equals_nocase(name, "date") || equals_nocase(name, "transfer-encoding");
}

bool is_token_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!is_token_char(c)) return false;
  return true;
}

// IMF-fixdate (RFC 9110 5.6.7), written by hand because strftime's %a and %b
// follow the locale.
void append_date(std::string& out) {
  static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                           "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                        days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
                        tm.tm_hour, tm.tm_min, tm.tm_sec);
  out += "Date: ";
  out.append(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
  out += "\r\n";
}

}  // namespace

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Payload Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 422:
      return "Unprocessable Entity";
    case 425:
      return "Too Early";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    case 507:
      return "Insufficient Storage";
  }
  return "Unknown";
}

namespace {

// The status line and the handler's headers (framing ones dropped).
void append_head(std::string& out, int status, const header_list& headers) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
  for (const auto& [name, value] : headers) {
    // A name that is no token would corrupt the header block; dropping the
    // header is safer than sending a response the client cannot parse.
    if (!is_token(name) || is_framing_header(name)) continue;
    out += name;
    out += ": ";
    for (char c : value) out += c == '\r' || c == '\n' || c == '\0' ? ' ' : c;
    out += "\r\n";
  }
}

}  // namespace

std::string encode_stream_head(const server_response& r, bool keep_alive) {
  int status =
      r.status >= 200 && r.status <= 599 && r.status != 204 && r.status != 304 ? r.status : 500;
  std::string out;
  out.reserve(160 + 64 * r.headers.size());
  append_head(out, status, r.headers);
  append_date(out);
  out += "Transfer-Encoding: chunked\r\n";
  out += keep_alive && !r.close ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  out += "\r\n";
  return out;
}

void append_chunk(std::string& out, std::string_view bytes) {
  if (bytes.empty()) return;
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
  out.append(size, static_cast<std::size_t>(n));
  out.append(bytes);
  out += "\r\n";
}

std::string encode_response(const server_response& r, bool keep_alive) {
  int status = r.status >= 100 && r.status <= 599 ? r.status : 500;
  bool interim = status < 200;
  bool bodyless = interim || status == 204 || status == 304;

  std::string out;
  out.reserve(128 + r.body.size() + 64 * r.headers.size());
  append_head(out, status, r.headers);
  if (!interim) {
    append_date(out);
    if (!bodyless) {
      out += "Content-Length: ";
      out += std::to_string(r.body.size());
      out += "\r\n";
    }
    out += keep_alive && !r.close ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  }
  out += "\r\n";
  if (!bodyless) out += r.body;
  return out;
}

}  // namespace weft::net
