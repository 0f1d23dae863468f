// OTLP/HTTP JSON: a batch becomes one ExportTraceServiceRequest, gzipped
// when configured; the answer is judged by the shared rules (http_sink.cpp).
#include "export/otlp_protocol.hpp"

namespace weft::exporting {

namespace {

std::string base64(std::string_view in) {
  static constexpr char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    auto v = (unsigned(static_cast<unsigned char>(in[i])) << 16) |
             (unsigned(static_cast<unsigned char>(in[i + 1])) << 8) |
             unsigned(static_cast<unsigned char>(in[i + 2]));
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += tbl[(v >> 6) & 63];
    out += tbl[v & 63];
  }
  if (i < in.size()) {
    unsigned v = unsigned(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= unsigned(static_cast<unsigned char>(in[i + 1])) << 8;
    out += tbl[(v >> 18) & 63];
    out += tbl[(v >> 12) & 63];
    out += i + 1 < in.size() ? tbl[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

}  // namespace

std::string basic_auth(const std::string& user, const std::string& password) {
  return "Basic " + base64(user + ":" + password);
}

std::unique_ptr<http_sink_protocol> make_otlp_protocol(const config::otlp_settings& s,
                                                       tracing::resource_info res) {
  return std::make_unique<otlp_protocol>("otlp", s.endpoint, s.headers, s.timeout_ms, s.gzip,
                                         std::move(res));
}

}  // namespace weft::exporting
