// Langfuse's OTLP endpoint (/api/public/otel/v1/traces): OTLP/HTTP JSON
// with basic auth and weft's attributes mapped to the langfuse.* ones its UI
// reads (tracing/langfuse_mapping.hpp).
#include "export/otlp_protocol.hpp"
#include "tracing/langfuse_mapping.hpp"
#include "tracing/otlp_json.hpp"

namespace weft::exporting {
namespace {

// Langfuse's OTLP endpoint: the same wire format, with weft's attributes
// mapped to the langfuse.* ones its UI reads (tracing/langfuse_mapping.hpp).
// The batch is shared with other sinks, so the mapping works on a copy.
class langfuse_protocol final : public otlp_protocol {
 public:
  langfuse_protocol(const config::langfuse_settings& s, tracing::resource_info res, bool content)
      : otlp_protocol("langfuse", s.host + "/api/public/otel/v1/traces",
                      {{"Authorization", basic_auth(s.public_key, s.secret_key)}}, s.timeout_ms,
                      false, std::move(res)) {
    opts_.environment = s.environment;
    opts_.release = s.release;
    opts_.content = content;
  }

 protected:
  std::string encode(const std::vector<tracing::span_record>& batch) const override {
    auto copy = batch;
    tracing::add_langfuse_attributes(copy, opts_);
    std::string body;
    body.reserve(copy.size() * 900);
    tracing::append_export_request(body, copy, resource());
    return body;
  }

 private:
  tracing::langfuse_options opts_;
};

}  // namespace

std::unique_ptr<http_sink_protocol> make_langfuse_protocol(const config::langfuse_settings& s,
                                                           tracing::resource_info res,
                                                           bool content) {
  return std::make_unique<langfuse_protocol>(s, std::move(res), content);
}

}  // namespace weft::exporting
