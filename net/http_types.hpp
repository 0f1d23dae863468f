// The values that travel to and from the http_client actor: one request, one
// response, and how a transfer failed when no HTTP answer came back.
//
// A transport failure is data, not a caf::error: the caller (the exporter's
// retry policy, typically) wants to tell "backend said 503" from "backend
// unreachable" from "backend too slow", and all three arrive the same way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <caf/all.hpp>

namespace weft::net {

using header_list = std::vector<std::pair<std::string, std::string>>;

struct http_request {
  std::string method = "POST";
  std::string url;  // http:// or https:// only
  header_list headers;
  std::string body;
  std::int64_t timeout_ms = 10000;  // whole transfer, connect included; <= 0: none
  /// When > 0: keep at most this many bytes of the response body, read the
  /// rest and throw it away (response.body_truncated tells), so that an
  /// answer only glanced at cannot cost memory or fail the request. 0: keep
  /// the whole body, up to the client's max_response_bytes (beyond which
  /// the request fails).
  std::size_t keep_body_bytes = 0;
};

/// Why a transfer produced no HTTP response. Anything the server answered,
/// including 4xx and 5xx, is `none`.
enum class transport_error : int {
  none = 0,
  connect = 1,  // refused or unreachable
  dns = 2,      // host name did not resolve
  timeout = 3,  // the request's timeout_ms elapsed
  other = 4,    // reset, TLS failure, bad request, client shut down, ...
  /// The client shut down under a streamed request (see http_client.hpp);
  /// an abort the caller asked for is never answered at all.
  aborted = 5,
  /// The request itself is malformed (a URL curl cannot parse, a scheme it
  /// does not speak): sending it again cannot help.
  invalid = 6,
};

std::string to_string(transport_error e);

struct http_response {
  long status = 0;      // 0 when error != none
  header_list headers;  // names as the server sent them
  std::string body;
  transport_error error = transport_error::none;
  /// Human-readable cause when error != none. Never contains request headers
  /// or the request URL, which may carry credentials.
  std::string error_message;
  /// The server sent more body than the request's keep_body_bytes.
  bool body_truncated = false;

  /// True for a 2xx answer.
  bool ok() const { return error == transport_error::none && status >= 200 && status < 300; }

  /// The first header with this name, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
};

/// A piece of a streamed response body (http_client.hpp, `http_chunk_atom`).
/// `credit` counts the bytes as in flight towards the request's stream
/// window until the last copy of the chunk is destroyed, which is what lets
/// the client pause a transfer whose reader falls behind: the bytes a slow
/// reader holds stay bounded without it ever acknowledging anything.
struct http_chunk {
  std::string bytes;
  std::shared_ptr<void> credit;  // returns the bytes to the window when the last copy dies
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_chunk& x) {
  // The credit is local bookkeeping; only the bytes could ever travel.
  return f(caf::meta::type_name("http_chunk"), x.bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_request& x) {
  return f(caf::meta::type_name("http_request"), x.method, x.url, x.headers, x.body, x.timeout_ms,
           x.keep_body_bytes);
}

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, http_response& x) {
  return f(caf::meta::type_name("http_response"), x.status, x.headers, x.body, x.error,
           x.error_message, x.body_truncated);
}

}  // namespace weft::net
