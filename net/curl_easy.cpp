#include "net/curl_easy.hpp"

#include <cctype>
#include <cstring>
#include <mutex>
#include <utility>

namespace weft::net::detail {

namespace {

// RFC 9110 "token": what method and header names may consist of.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 32 || c >= 127 || std::strchr("\"(),/:;<=>?@[\\]{}", c)) return false;
  return true;
}

bool is_field_value(std::string_view s) {
  for (unsigned char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

http_response failure(transport_error e, std::string message) {
  http_response r;
  r.error = e;
  r.error_message = std::move(message);
  return r;
}

transport_error classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT:
      return transport_error::connect;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return transport_error::dns;
    case CURLE_OPERATION_TIMEDOUT:
      return transport_error::timeout;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return transport_error::invalid;
    default:
      return transport_error::other;
  }
}

http_response failure(CURLcode code, const char* error_buffer) {
  std::string msg = curl_easy_strerror(code);
  if (error_buffer[0] != '\0') msg += std::string(": ") + error_buffer;
  return failure(classify(code), std::move(msg));
}

std::optional<std::string> invalid(const http_request& req) {
  if (!is_token(req.method)) return "invalid HTTP method";
  for (auto& [name, value] : req.headers) {
    if (!is_token(name)) return "invalid request header name";
    if (!is_field_value(value)) return "invalid value for request header " + name;
  }
  return std::nullopt;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

void add_header_line(http_response& r, std::string_view line) {
  if (line.starts_with("HTTP/")) {
    r.headers.clear();
    return;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return;  // the blank line that ends the head
  r.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                         std::string(trim(line.substr(colon + 1))));
}

void configure_easy(CURL* e, const http_request& req, const easy_options& x) {
  curl_easy_setopt(e, CURLOPT_PRIVATE, x.owner);
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  // Signals are process-wide; libcurl must not use them from our thread.
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, x.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, x.verify_tls ? 2L : 0L);
  if (x.timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(x.timeout_ms));
  curl_easy_setopt(e, CURLOPT_USERAGENT, x.user_agent);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x.error_buffer);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, x.on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, x.owner);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, x.on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, x.owner);

  if (req.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    if (req.method == "POST" || !req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
    }
    if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
}

curl_slist* append_header(curl_slist* list, const std::string& name, const std::string& value) {
  // "Name;" is libcurl's spelling of a header with an empty value.
  std::string line = value.empty() ? name + ";" : name + ": " + value;
  return curl_slist_append(list, line.c_str());
}

}  // namespace weft::net::detail
