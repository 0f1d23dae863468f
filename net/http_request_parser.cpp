#include "net/http_request_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

namespace weft::net {

namespace {

// What the request line and header block hold besides the bytes that the
// callbacks report: "METHOD SP target SP HTTP/1.1 CRLF" has the method (11
// bytes at most, "UNSUBSCRIBE"), 12 bytes of separators and version, the final
// blank line 2, and each header ": " and CRLF. Whitespace beyond that (padding
// around values) is bounded by http_parser's own HTTP_MAX_HEADER_SIZE, so
// nothing goes uncounted for long.
constexpr std::size_t request_line_overhead = 11 + 12 + 2;
constexpr std::size_t per_header_overhead = 4;

// Never reserve a whole Content-Length up front: a client can announce 1 MiB
// on every connection and then send nothing.
constexpr std::size_t max_body_reserve = 64 * 1024;

bool equals_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

// RFC 9110 tchar. The Debian build of http_parser is the non-strict one, which
// lets a space into a header name; "Content-Length : 5" must not be a header
// that we ignore while a proxy in front of us honours it.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// A short excerpt of client bytes that is safe to put in an error message.
std::string excerpt(std::string_view s) {
  constexpr std::size_t max = 40;
  std::string out;
  for (unsigned char c : s.substr(0, max)) out += c >= 0x20 && c < 0x7f ? char(c) : '?';
  if (s.size() > max) out += "...";
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes into `out`. On a bad escape returns false with `bad_at`
// at its '%'.
bool percent_decode(std::string_view in, std::string& out, std::size_t& bad_at) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    int hi = i + 2 < in.size() ? hex_value(in[i + 1]) : -1;
    int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      bad_at = i;
      return false;
    }
    out += char(hi * 16 + lo);
    i += 2;
  }
  return true;
}

void trim_blanks(std::string& s) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && blank(s.back())) s.pop_back();
  std::size_t lead = 0;
  while (lead < s.size() && blank(s[lead])) ++lead;
  s.erase(0, lead);
}

}  // namespace

std::optional<std::string> server_request::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (equals_nocase(k, name)) return v;
  return std::nullopt;
}

// http_parser calls plain C functions; these forward to the parser object
// that feed() stored in parser_.data.
struct request_parser::callbacks {
  static request_parser& self(http_parser* p) { return *static_cast<request_parser*>(p->data); }

  static int on_message_begin(http_parser* p) {
    auto& s = self(p);
    s.begun_ = true;
    s.header_bytes_ = request_line_overhead;
    return 0;
  }

  static int on_url(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    s.header_bytes_ += n;
    if (s.header_bytes_ > s.limits_.max_header_bytes) return s.too_many_header_bytes();
    s.request_.target.append(at, n);
    return 0;
  }

  // http_parser may report one name or value in several pieces (whenever a
  // read ends inside it); a field after a value starts the next header.
  static int on_header_field(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    auto& headers = s.request_.headers;
    if (headers.empty() || s.in_value_) {
      if (headers.size() >= s.limits_.max_headers)
        return s.fail(431, "headers_too_large",
                      "more than " + std::to_string(s.limits_.max_headers) +
                          " header fields (--max-headers)");
      headers.emplace_back();
      s.in_value_ = false;
      s.header_bytes_ += per_header_overhead;
    }
    s.header_bytes_ += n;
    if (s.header_bytes_ > s.limits_.max_header_bytes) return s.too_many_header_bytes();
    headers.back().first.append(at, n);
    return 0;
  }

  static int on_header_value(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    s.header_bytes_ += n;
    if (s.header_bytes_ > s.limits_.max_header_bytes) return s.too_many_header_bytes();
    s.in_value_ = true;
    if (!s.request_.headers.empty()) s.request_.headers.back().second.append(at, n);
    return 0;
  }

  static int on_headers_complete(http_parser* p) { return self(p).on_headers_complete(); }

  static int on_body(http_parser* p, const char* at, std::size_t n) {
    auto& s = self(p);
    // Content-Length was checked against the limit already; this guards the
    // limit should http_parser ever deliver more than it announced.
    if (s.request_.body.size() + n > s.limits_.max_body_bytes)
      return s.fail(413, "body_too_large", "request body exceeds its Content-Length");
    s.request_.body.append(at, n);
    return 0;
  }

  static int on_message_complete(http_parser* p) {
    auto& s = self(p);
    s.ready_ = true;
    // Stop here so that pipelined requests come out one at a time;
    // http_parser_execute then returns the bytes up to this request's end.
    http_parser_pause(p, 1);
    return 0;
  }

  static const http_parser_settings& settings() {
    static const http_parser_settings s = [] {
      http_parser_settings x;
      http_parser_settings_init(&x);
      x.on_message_begin = on_message_begin;
      x.on_url = on_url;
      x.on_header_field = on_header_field;
      x.on_header_value = on_header_value;
      x.on_headers_complete = callbacks::on_headers_complete;
      x.on_body = on_body;
      x.on_message_complete = on_message_complete;
      return x;
    }();
    return s;
  }
};

request_parser::request_parser(parse_limits limits) : limits_(std::move(limits)) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

int request_parser::fail(int status, const char* code, std::string message) {
  failed_ = true;
  error_ = parse_error{status, code, std::move(message)};
  return -1;  // not 1 or 2: from on_headers_complete those mean "no body"
}

int request_parser::too_many_header_bytes() {
  return fail(431, "headers_too_large",
              "request line and headers exceed the limit of " +
                  std::to_string(limits_.max_header_bytes) + " bytes (--max-header-bytes)");
}

int request_parser::on_headers_complete() {
  auto& r = request_;
  const auto& p = parser_;
  r.method = http_method_str(static_cast<http_method>(p.method));
  r.http_major = p.http_major;
  r.http_minor = p.http_minor;

  if (r.http_major == 0 && r.http_minor == 9)
    return fail(505, "version_not_supported",
                "the request line has no HTTP version (HTTP/0.9); use HTTP/1.1");
  if (r.http_major != 1 || r.http_minor > 1)
    return fail(505, "version_not_supported",
                "HTTP/" + std::to_string(r.http_major) + "." + std::to_string(r.http_minor) +
                    " is not supported; use HTTP/1.1");

  for (auto& [name, value] : r.headers) {
    if (!is_token(name))
      return fail(400, "bad_request", "header name \"" + excerpt(name) + "\" is not a valid token");
    trim_blanks(value);
  }

  // Framing: only Content-Length. Whatever the Transfer-Encoding, refuse it
  // before http_parser starts decoding a body we would not frame the same way.
  if (r.header("Transfer-Encoding"))
    return fail(411, "length_required",
                "Transfer-Encoding (chunked bodies) is not supported; send Content-Length");
  bool has_length = (p.flags & F_CONTENTLENGTH) != 0;
  if (!has_length && (r.method == "POST" || r.method == "PUT" || r.method == "PATCH"))
    return fail(411, "length_required", r.method + " requires a Content-Length header");
  std::uint64_t length = has_length ? p.content_length : 0;
  if (length > limits_.max_body_bytes)
    return fail(413, "body_too_large",
                "Content-Length " + std::to_string(length) + " exceeds the limit of " +
                    std::to_string(limits_.max_body_bytes) + " bytes (--max-body-bytes)");
  if (length > 0 && limits_.admit_body && !limits_.admit_body(static_cast<std::size_t>(length)))
    return fail(503, "server_busy",
                "the server holds its maximum of buffered request and response bytes "
                "(--max-buffered-bytes); retry shortly");

  // The target: origin-form "/p?q", absolute-form "http://h/p?q", "*" for
  // OPTIONS, or CONNECT's "host:port", which has no path. A fragment is
  // not ours to see; clients should not send it, and it is dropped.
  std::string_view t = r.target;
  t = t.substr(0, std::min(t.find('#'), t.size()));
  if (auto q = t.find('?'); q != std::string_view::npos) {
    r.query = std::string(t.substr(q + 1));
    t = t.substr(0, q);
  }
  if (!t.empty() && t[0] != '/' && t != "*") {
    if (auto scheme = t.find("://"); scheme != std::string_view::npos) {
      auto slash = t.find('/', scheme + 3);
      t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
    } else {
      t = {};
    }
  }
  std::size_t bad_at = 0;
  if (!percent_decode(t, r.path, bad_at))
    return fail(400, "bad_request",
                "bad percent-escape \"" + excerpt(t.substr(bad_at, 3)) +
                    "\" in the request path (want % and two hex digits)");
  // A decoded NUL would end the path early for anything that treats it as a
  // C string (a file name, a log line); no route has one.
  if (r.path.find('\0') != std::string::npos)
    return fail(400, "bad_request", "the request path contains %00");

  r.keep_alive = http_should_keep_alive(&p) != 0;
  r.body.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(length, max_body_reserve)));

  // on_headers_complete runs once per request, so this is reported once.
  if (auto expect = r.header("Expect");
      length > 0 && expect && equals_nocase(*expect, "100-continue")) {
    continue_due_ = true;
    http_parser_pause(&parser_, 1);
  }
  return 0;
}

request_parser::state request_parser::feed(const char* data, std::size_t size,
                                           std::size_t& consumed) {
  consumed = 0;
  if (failed_) return state::error;
  if (ready_) return state::request_ready;
  if (size == 0) return state::need_more;  // http_parser reads a 0-byte call as end of input

  // Remember the request's first bytes for the HTTP/2 check below. A request
  // is longer than head_, so these bytes all belong to the current one.
  for (std::size_t i = 0; i < size && head_size_ < sizeof(head_); ++i) {
    if (head_size_ == 0 && (data[i] == '\r' || data[i] == '\n')) continue;
    head_[head_size_++] = data[i];
  }

  parser_.data = this;
  if (HTTP_PARSER_ERRNO(&parser_) == HPE_PAUSED) http_parser_pause(&parser_, 0);
  consumed = http_parser_execute(&parser_, &callbacks::settings(), data, size);
  auto err = HTTP_PARSER_ERRNO(&parser_);

  request_offset_ += consumed;
  if (failed_) return state::error;  // a callback refused the request
  if (err == HPE_PAUSED) {
    if (ready_) return state::request_ready;
    if (continue_due_) {
      continue_due_ = false;
      return state::expect_continue;
    }
  }
  if (err == HPE_INVALID_METHOD && std::string_view(head_, head_size_) == "PRI ") {
    fail(505, "version_not_supported",
         "HTTP/2 is not supported (got the HTTP/2 connection preface); use HTTP/1.1");
    return state::error;
  }
  if (err == HPE_HEADER_OVERFLOW) {
    too_many_header_bytes();
    return state::error;
  }
  if (err != HPE_OK) {
    // On a parse error http_parser stops at the offending byte.
    fail(400, "bad_request",
         "malformed request at offset " + std::to_string(request_offset_) + ": " +
             http_errno_description(err) + " (" + http_errno_name(err) + ")");
    return state::error;
  }
  if (consumed != size) {
    // http_parser stops early without an error only after an upgrade, and
    // that ends in on_message_complete; anything else would make the caller
    // feed the same bytes forever.
    fail(400, "bad_request", "malformed request: the parser stopped before the end of input");
    return state::error;
  }
  return state::need_more;
}

void request_parser::reset_request() {
  request_ = server_request{};
  header_bytes_ = 0;
  request_offset_ = 0;
  begun_ = ready_ = in_value_ = continue_due_ = false;
  head_size_ = 0;
}

server_request request_parser::take_request() {
  if (!ready_ || failed_) return {};
  auto r = std::move(request_);
  reset_request();
  http_parser_pause(&parser_, 0);
  return r;
}

}  // namespace weft::net
