// The OTLP/HTTP JSON protocol (OTLP's /v1/traces), declared here because
// Langfuse's OTLP endpoint speaks it too, with attributes of its own
// (langfuse_protocol.cpp derives from it).
#pragma once

#include <string>
#include <vector>

#include "export/http_sink.hpp"
#include "net/gzip.hpp"
#include "tracing/otlp_json.hpp"

namespace weft::exporting {

/// How much of an OTLP answer the sinks keep: at most a partialSuccess
/// object, so 64 KiB is plenty, and a 2xx with a huge body is still a
/// delivery.
inline constexpr std::size_t otlp_answer_bytes = 64 * 1024;

/// "Basic <base64(user:password)>", for the Langfuse sinks.
std::string basic_auth(const std::string& user, const std::string& password);

class otlp_protocol : public http_sink_protocol {
 public:
  otlp_protocol(std::string name, std::string url, config::header_list headers,
                std::int64_t timeout_ms, bool gzip, tracing::resource_info res)
      : name_(std::move(name)),
        url_(std::move(url)),
        headers_(std::move(headers)),
        timeout_ms_(timeout_ms),
        gzip_(gzip),
        res_(std::move(res)) {}

  std::string name() const override { return name_; }

  net::http_request make_request(const std::vector<tracing::span_record>& batch) const override {
    net::http_request r;
    r.method = "POST";
    r.url = url_;
    r.timeout_ms = timeout_ms_;
    r.keep_body_bytes = otlp_answer_bytes;
    r.headers = headers_;
    r.headers.emplace_back("Content-Type", "application/json");
    std::string body = encode(batch);
    if (gzip_) {
      r.body = net::gzip_compress(body);
      r.headers.emplace_back("Content-Encoding", "gzip");
    } else {
      r.body = std::move(body);
    }
    return r;
  }

 protected:
  // The OTLP/JSON body; backends that add attributes of their own override it.
  virtual std::string encode(const std::vector<tracing::span_record>& batch) const {
    std::string body;
    body.reserve(batch.size() * 700);
    tracing::append_export_request(body, batch, res_);
    return body;
  }
  const tracing::resource_info& resource() const { return res_; }

 private:
  std::string name_, url_;
  config::header_list headers_;
  std::int64_t timeout_ms_;
  bool gzip_;
  tracing::resource_info res_;
};

}  // namespace weft::exporting
