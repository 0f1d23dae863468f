// What an HTTP sink's answer means, the same for every protocol: OTLP's
// retry rules (429, 502, 503, 504 and transport failures), partial success,
// redirects as rejections, 413 for splitting, and Retry-After.
#include <algorithm>
#include <cctype>
#include <ctime>

#include <nlohmann/json.hpp>

#include "export/http_sink.hpp"
#include "net/printable.hpp"

namespace weft::exporting {

delivery_verdict http_sink_protocol::judge(const net::http_response& r) const {
  delivery_verdict v;
  if (r.error != net::transport_error::none) {
    v.kind = delivery_verdict::retry;
    v.detail = net::to_string(r.error) + ": " + net::printable(r.error_message, 400);
    return v;
  }
  if (r.status >= 200 && r.status < 300) {
    v.kind = delivery_verdict::delivered;
    // OTLP partial success: the backend took the request but refused some
    // spans. They will not get better by retrying; they are counted.
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_object() && j.contains("partialSuccess") && j["partialSuccess"].is_object()) {
      auto& ps = j["partialSuccess"];
      if (ps.contains("rejectedSpans")) {
        auto& n = ps["rejectedSpans"];
        if (n.is_number_unsigned() || n.is_number_integer())
          v.rejected_spans = n.get<std::uint64_t>();
        else if (n.is_string())
          v.rejected_spans = std::strtoull(n.get<std::string>().c_str(), nullptr, 10);
      }
      if (ps.contains("errorMessage") && ps["errorMessage"].is_string())
        v.detail = net::printable(ps["errorMessage"].get<std::string>());
    }
    return v;
  }
  if (r.status >= 300 && r.status < 400) {
    // libcurl follows no redirect for us (a POST must not silently turn
    // into a GET elsewhere): the endpoint is wrong, and the log says where
    // the backend points.
    auto where = r.header("Location");
    v.detail =
        "HTTP " + std::to_string(r.status) + ": redirected to " +
        (where ? net::printable(net::redact_userinfo(*where), 400) : "(no Location header)") +
        "; weft does not follow redirects: set the endpoint to the final URL";
    v.kind = delivery_verdict::reject;
    return v;
  }
  v.detail = "HTTP " + std::to_string(r.status) + ": " + net::printable(r.body);
  if (r.status == 413) {
    v.kind = delivery_verdict::too_large;
    return v;
  }
  if (r.status == 429 || r.status == 502 || r.status == 503 || r.status == 504) {
    v.kind = delivery_verdict::retry;
    if (auto ra = r.header("Retry-After"))
      v.retry_after_ms = parse_retry_after(*ra, static_cast<std::int64_t>(std::time(nullptr)));
    return v;
  }
  v.kind = delivery_verdict::reject;
  return v;
}

std::optional<std::int64_t> parse_retry_after(const std::string& value, std::int64_t now_unix_s) {
  auto b = value.find_first_not_of(" \t");
  if (b == std::string::npos) return std::nullopt;
  auto t = value.substr(b, value.find_last_not_of(" \t") - b + 1);
  if (std::all_of(t.begin(), t.end(), [](unsigned char c) { return std::isdigit(c); })) {
    if (t.size() > 9) return std::nullopt;
    return std::stoll(t) * 1000;
  }
  // HTTP-date (IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
  std::tm tm{};
  const char* end = strptime(t.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  auto when = static_cast<std::int64_t>(timegm(&tm));
  return std::max<std::int64_t>(0, (when - now_unix_s) * 1000);
}

}  // namespace weft::exporting
