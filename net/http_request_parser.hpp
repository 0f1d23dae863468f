// The request side of weft's HTTP/1.1 server: bytes in, requests out, no
// sockets. The connection broker (net/http_server.hpp) owns one parser per
// connection, appends bytes as they arrive and calls feed(); whatever comes
// back is a value, so hostile input can only ever produce a parse_error.
//
// Why it is safe to face the network with:
//   - Memory per connection is bounded: the request line and headers by
//     parse_limits::max_header_bytes and max_headers, the body by
//     max_body_bytes, which is checked against Content-Length before a single
//     body byte is stored.
//   - Every call to feed() either consumes bytes or stops at a state the
//     caller must act on (request_ready, expect_continue, error), so no input
//     makes the broker spin.
//   - Bodies need Content-Length. Chunked bodies are refused with 411 rather
//     than supported: one framing rule leaves no room for the
//     Content-Length/Transfer-Encoding disagreements that request smuggling
//     is made of, and every client weft cares about sends a length.
//
// Pipelining. feed() stops right after one complete request and leaves the
// bytes after it unconsumed, so requests come out one at a time and the
// broker can stop feeding while too many answers are outstanding.
//
// The parsing itself is libhttp-parser 2.9 (Debian's libhttp-parser-dev);
// this class adds the limits, the framing policy and the server_request.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <http_parser.h>
#include <caf/all.hpp>

#include "net/http_types.hpp"

namespace weft::net {

/// One request as the server received it.
struct server_request {
  std::string method;  // "GET", "POST", ... as parsed
  std::string target;  // raw request-target, e.g. "/v1/flows/a%20b?x=1"
  /// The target's path, percent-decoded ("/v1/flows/a b"). "*" for
  /// "OPTIONS *"; empty for CONNECT's authority-form. An absolute-form target
  /// ("http://host/p") yields its path ("/p").
  std::string path;
  std::string query;    // after '?', raw (still percent-encoded), without '?'
  header_list headers;  // names as sent, in order; values without surrounding blanks
  std::string body;
  int http_major = 1;
  int http_minor = 1;
  /// Whether the connection may stay open after the answer: HTTP/1.1 unless
  /// "Connection: close", HTTP/1.0 only with "Connection: keep-alive".
  bool keep_alive = true;

  /// The first header with this name, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
};

/// What one request may cost. The broker takes these from the server config.
struct parse_limits {
  std::size_t max_header_bytes = 16 * 1024;  // request line + all headers; over it: 431
  std::size_t max_body_bytes = 1 << 20;      // over it: 413, decided from Content-Length
  std::size_t max_headers = 100;             // more header fields: 431
  /// Asked once a request's headers are in, with its Content-Length, before
  /// a body byte is stored; false refuses the request with 503 server_busy.
  /// The server hangs its process-wide budget of buffered bytes here.
  std::function<bool(std::size_t)> admit_body;
};

/// Why a request cannot be served. After an error the connection must be
/// closed once the error is answered: the bytes that follow cannot be framed.
struct parse_error {
  int status = 400;  // 400, 411, 413, 431, 503 (admit_body said no) or 505
  /// Stable machine code: "bad_request", "length_required", "body_too_large",
  /// "headers_too_large", "server_busy" or "version_not_supported".
  std::string code = "bad_request";
  /// Human text naming the fault. Never echoes more than a short, printable
  /// excerpt of the client's bytes.
  std::string message;
};

class request_parser {
 public:
  enum class state {
    /// Every byte was consumed and no request is complete yet.
    need_more,
    /// The headers of a request with "Expect: 100-continue" and a non-empty
    /// body are complete. The caller should write "HTTP/1.1 100 Continue\r\n\r\n"
    /// (unless earlier answers are still pending) and call feed() again with
    /// the unconsumed bytes. Reported once per request, right after its
    /// headers, even when body bytes follow in the same buffer. `consumed` may
    /// stop one byte short of the blank line and may be 0; the next feed()
    /// always moves on.
    expect_continue,
    /// A complete request: call take_request(). Bytes after it were not
    /// consumed. Until take_request(), feed() consumes nothing and says
    /// request_ready again.
    request_ready,
    /// See error(). Final: every later feed() says error again.
    error,
  };

  explicit request_parser(parse_limits limits = {});

  /// Parses from `data` and sets `consumed` to how many bytes were used; the
  /// caller keeps the rest and passes it again (after take_request() when a
  /// request was ready). Feeding nothing (size 0) is harmless: end of input is
  /// the broker's business, not the parser's.
  state feed(const char* data, std::size_t size, std::size_t& consumed);

  /// Moves the ready request out and makes the parser ready for the next one.
  /// Without a ready request it returns an empty request and changes nothing.
  server_request take_request();

  /// The fault after feed() said error; status 400 with no message otherwise.
  const parse_error& error() const { return error_; }

  /// True when some bytes of the next request were seen but it is not
  /// complete yet: the broker tells an idle keep-alive connection (false) from
  /// a slow client (true) with it. Blank lines between requests do not count.
  bool in_progress() const { return begun_ && !ready_ && !failed_; }

 private:
  struct callbacks;  // the http_parser_settings hooks, in the .cpp
  friend struct callbacks;

  // Sets error_ and failed_. Returns -1, which a callback hands back to
  // http_parser to make it stop.
  int fail(int status, const char* code, std::string message);
  int too_many_header_bytes();
  int on_headers_complete();
  void reset_request();

  parse_limits limits_;
  // http_parser keeps a pointer to us in parser_.data; feed() refreshes it,
  // so a parser that was copied or moved still calls back into itself.
  http_parser parser_;
  server_request request_;
  parse_error error_;
  std::size_t header_bytes_ = 0;  // counted towards max_header_bytes
  // Bytes consumed since the previous request ended, so that a parse error
  // can say where it is.
  std::size_t request_offset_ = 0;
  bool begun_ = false;         // on_message_begin seen for request_
  bool ready_ = false;         // on_message_complete seen for request_
  bool failed_ = false;        // final; error_ says why
  bool in_value_ = false;      // last header callback was a value: a field starts the next header
  bool continue_due_ = false;  // paused after the headers to report expect_continue
  // The first bytes of the request (leading blank lines skipped), so that an
  // HTTP/2 preface, which http_parser sees only as a bad method, gets a 505.
  char head_[4] = {};
  std::size_t head_size_ = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_request& x) {
  return f(caf::meta::type_name("server_request"), x.method, x.target, x.path, x.query, x.headers,
           x.body, x.http_major, x.http_minor, x.keep_alive);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, parse_error& x) {
  return f(caf::meta::type_name("parse_error"), x.status, x.code, x.message);
}

}  // namespace weft::net
