// The answer side of weft's HTTP/1.1 server: a server_response value (what a
// handler replies, possibly from another actor) and its encoding to wire bytes.
//
// encode_response() owns the framing headers. Content-Length, Connection and
// Date are always its own, whatever the handler put in `headers`, so that a
// handler cannot frame a response wrongly and desynchronise a keep-alive
// connection. For the same reason CR and LF never reach the wire from a
// header: a value that carries request data (an id, a traceparent) cannot
// inject a header or a second response.
#pragma once

#include <string>
#include <string_view>

#include <caf/all.hpp>

#include "net/http_types.hpp"

namespace weft::net {

struct server_response {
  int status = 200;
  /// Extra headers, in order. Content-Length, Connection, Date and
  /// Transfer-Encoding here are ignored: encode_response() writes its own.
  header_list headers;
  std::string body;
  /// Forces "Connection: close": for errors after which the connection's
  /// bytes cannot be trusted (parse errors) or a server that is draining.
  bool close = false;
};

/// The standard reason phrase ("OK", "Not Found", "Payload Too Large", ...);
/// "Unknown" for a status without one.
std::string_view reason_phrase(int status);

/// The wire bytes: "HTTP/1.1 <status> <reason>", the extra headers, Date,
/// Content-Length, "Connection: close" when !keep_alive || r.close and
/// "Connection: keep-alive" otherwise (which HTTP/1.0 keep-alive clients need
/// and HTTP/1.1 clients ignore), then the body.
///
/// A status outside 100..599 is sent as 500. Statuses that cannot have a body
/// (1xx, 204, 304) are sent without body and without Content-Length; a 1xx
/// is an interim answer and gets neither Date nor Connection.
std::string encode_response(const server_response& r, bool keep_alive);

/// The head of a streamed answer: as encode_response, but with
/// "Transfer-Encoding: chunked" instead of Content-Length, and no body.
std::string encode_stream_head(const server_response& r, bool keep_alive);

/// One chunk of a chunked body ("<hex size>\r\n<bytes>\r\n"); empty bytes
/// give nothing (an empty chunk would end the body).
void append_chunk(std::string& out, std::string_view bytes);

/// The end of a chunked body.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, server_response& x) {
  return f(caf::meta::type_name("server_response"), x.status, x.headers, x.body, x.close);
}

}  // namespace weft::net
