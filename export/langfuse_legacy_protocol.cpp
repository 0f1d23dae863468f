// Langfuse's legacy ingestion API (/api/public/ingestion): a batch of
// trace, span and generation events (tracing/langfuse_legacy.hpp), and a
// 207 answer that reports each event on its own, so that only the events it
// refused go again.
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "export/otlp_protocol.hpp"
#include "net/printable.hpp"
#include "tracing/langfuse_legacy.hpp"

namespace weft::exporting {
namespace {

// The legacy API's 207 lists one line per event.
constexpr std::size_t legacy_answer_bytes = 4 << 20;

class langfuse_legacy_protocol final : public http_sink_protocol {
 public:
  langfuse_legacy_protocol(const config::langfuse_settings& s, bool content)
      : url_(s.host + "/api/public/ingestion"),
        auth_(basic_auth(s.public_key, s.secret_key)),
        timeout_ms_(s.timeout_ms) {
    opts_.environment = s.environment;
    opts_.release = s.release;
    opts_.content = content;
  }

  std::string name() const override { return "langfuse"; }

  net::http_request make_request(const std::vector<tracing::span_record>& batch) const override {
    net::http_request r;
    r.url = url_;
    r.timeout_ms = timeout_ms_;
    r.keep_body_bytes = legacy_answer_bytes;
    r.headers = {{"Authorization", auth_}, {"Content-Type", "application/json"}};
    auto bodies = tracing::encode_legacy_batches(mapped(batch), opts_, max_bytes);
    // split() keeps every part to one body; a single event that cannot be
    // made small enough still goes, and Langfuse's answer decides.
    if (!bodies.empty()) r.body = std::move(bodies.front());
    return r;
  }

  std::vector<std::vector<tracing::span_record>> split(
      const std::vector<tracing::span_record>& batch) const override {
    if (batch.size() < 2 ||
        tracing::encode_legacy_batches(mapped(batch), opts_, max_bytes).size() < 2)
      return {};
    std::vector<std::vector<tracing::span_record>> out;
    auto half = batch.begin() + static_cast<long>(batch.size() / 2);
    for (auto part : {std::vector<tracing::span_record>(batch.begin(), half),
                      std::vector<tracing::span_record>(half, batch.end())}) {
      auto more = split(part);
      if (more.empty()) out.push_back(std::move(part));
      else
        for (auto& m : more) out.push_back(std::move(m));
    }
    return out;
  }

  delivery_verdict judge(const net::http_request& req, const net::http_response& r,
                         const std::vector<tracing::span_record>& batch) const override {
    if (r.error != net::transport_error::none || r.status == 413 ||
        (r.status >= 300 && r.status < 400))
      return http_sink_protocol::judge(r);
    auto res = tracing::parse_legacy_response(r.status, r.body, req.body);
    delivery_verdict v;
    if (res.retry_event_ids.empty() && res.rejected.empty()) return v;  // delivered
    // Which span each event describes: the body id is the span id (or, for
    // trace-create, the trace id, which the root span re-creates).
    std::map<std::string, std::string> event_object;
    auto j = nlohmann::json::parse(req.body, nullptr, false);
    if (j.is_object() && j.contains("batch") && j["batch"].is_array())
      for (auto& e : j["batch"])
        if (e.is_object() && e.contains("id") && e.contains("body") && e["body"].contains("id"))
          event_object[e["id"].get<std::string>()] =
              e.value("type", "") == "trace-create" ? "trace:" + e["body"]["id"].get<std::string>()
                                                    : e["body"]["id"].get<std::string>();
    std::set<std::string> retry_objects, rejected_objects;
    for (auto& id : res.retry_event_ids) retry_objects.insert(event_object[id]);
    for (auto& [id, msg] : res.rejected) {
      rejected_objects.insert(event_object[id]);
      if (v.detail.empty()) v.detail = "event rejected: " + net::printable(msg);
    }
    auto wanted = [&](const std::set<std::string>& objs, const tracing::span_record& s) {
      return objs.count(s.id.to_hex()) ||
             (!s.parent.valid() && objs.count("trace:" + s.trace.to_hex()));
    };
    std::uint64_t rejected = 0;
    for (auto& s : batch) {
      if (wanted(retry_objects, s)) v.retry_spans.push_back(s);
      else if (wanted(rejected_objects, s)) ++rejected;
    }
    if (v.retry_spans.size() == batch.size()) {
      // The whole request failed in a retryable way: an ordinary retry.
      v = http_sink_protocol::judge(r);
      if (v.kind != delivery_verdict::retry) {
        v.kind = delivery_verdict::retry;
        v.detail = "HTTP " + std::to_string(r.status) + ": every event to be retried";
      }
      return v;
    }
    if (rejected == batch.size()) {
      v.kind = delivery_verdict::reject;
      if (v.detail.empty())
        v.detail = "HTTP " + std::to_string(r.status) + ": " + net::printable(r.body);
      return v;
    }
    v.kind = delivery_verdict::delivered;
    v.rejected_spans = rejected;
    return v;
  }

 private:
  static constexpr std::size_t max_bytes = 3'500'000;
  std::vector<tracing::span_record> mapped(const std::vector<tracing::span_record>& batch) const {
    auto copy = batch;
    tracing::add_langfuse_attributes(copy, opts_);
    return copy;
  }
  std::string url_, auth_;
  std::int64_t timeout_ms_;
  tracing::langfuse_options opts_;
};

}  // namespace

std::unique_ptr<http_sink_protocol> make_langfuse_legacy_protocol(
    const config::langfuse_settings& s, bool content) {
  return std::make_unique<langfuse_legacy_protocol>(s, content);
}

}  // namespace weft::exporting
