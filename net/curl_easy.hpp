// Internal to net/: one libcurl easy handle per request, set up from an
// http_request, its response head read and its failures classified, for
// both libcurl users: the http_client worker (curl_worker.cpp) and the load
// driver (http_load.cpp). Both must check requests, parse response heads and report failures the
// same way, so that `weft load --url` measures what http_client would see.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <curl/curl.h>

#include "net/http_types.hpp"

namespace weft::net::detail {

/// curl_global_init, once per process, whichever user comes first.
void init_curl_once();

/// A response that carries only a transport failure.
http_response failure(transport_error e, std::string message);

/// The transport_error for a failed transfer's code.
transport_error classify(CURLcode code);

/// The failure for a transfer that ended with `code`. `error_buffer` is the
/// transfer's CURLOPT_ERRORBUFFER: it names host and port, never request
/// headers.
http_response failure(CURLcode code, const char* error_buffer);

/// Why the request cannot be sent (a method or header name that is not an
/// RFC 9110 token, a header value with CR, LF or NUL), naming no header
/// value; nullopt when it can. A bad value (an API key read from the
/// environment with a newline in it, say) must not smuggle extra headers or
/// requests onto a shared connection.
std::optional<std::string> invalid(const http_request& req);

/// ASCII case-insensitive equality, as header names compare.
bool iequals(std::string_view a, std::string_view b);

/// Feeds one line from libcurl's header callback into `r`. A status line
/// starts a new response (after "100 Continue", say) and clears the headers,
/// so only the final response's count; "Name: value" lines are appended.
void add_header_line(http_response& r, std::string_view line);

/// The per-user options of configure_easy.
struct easy_options {
  void* owner = nullptr;         // CURLOPT_PRIVATE and the callbacks' user pointer
  char* error_buffer = nullptr;  // CURL_ERROR_SIZE bytes, for CURLOPT_ERRORBUFFER
  curl_write_callback on_body = nullptr;
  curl_write_callback on_header = nullptr;
  bool verify_tls = true;
  std::int64_t timeout_ms = 0;  // whole transfer; <= 0: none
  const char* user_agent = "";
};

/// Sets up `e` for `req` (URL, method, body; http and https only; no
/// signals) and `x`; request headers are left to the caller. POSTFIELDS does
/// not copy: `req` must outlive the transfer.
void configure_easy(CURL* e, const http_request& req, const easy_options& x);

/// Appends one request header to `list`; returns the new list.
curl_slist* append_header(curl_slist* list, const std::string& name, const std::string& value);

}  // namespace weft::net::detail
