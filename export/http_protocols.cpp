// The wire formats of the HTTP sinks: OTLP/HTTP JSON and Langfuse's OTLP
// endpoint.
#include <ctime>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "export/http_sink.hpp"
#include "net/gzip.hpp"
#include "net/printable.hpp"
#include "tracing/langfuse_legacy.hpp"
#include "tracing/langfuse_mapping.hpp"
#include "tracing/otlp_json.hpp"

namespace weft::exporting {
namespace {

// How much of an answer the sinks keep. OTLP answers carry at most a
// partialSuccess object, so 64 KiB is plenty, and a 2xx with a huge body is
// still a delivery; the legacy API's 207 lists one line per event.
constexpr std::size_t otlp_answer_bytes = 64 * 1024;
constexpr std::size_t legacy_answer_bytes = 4 << 20;

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

std::string basic_auth(const std::string& user, const std::string& password) {
  return "Basic " + base64(user + ":" + password);
}

class otlp_protocol : public http_sink_protocol {
 public:
  otlp_protocol(std::string name, std::string url, config::header_list headers,
                std::int64_t timeout_ms, bool gzip, tracing::resource_info res)
      : name_(std::move(name)), url_(std::move(url)), headers_(std::move(headers)),
        timeout_ms_(timeout_ms), gzip_(gzip), res_(std::move(res)) {}

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
    if (batch.size() < 2 || tracing::encode_legacy_batches(mapped(batch), opts_, max_bytes).size() < 2)
      return {};
    std::vector<std::vector<tracing::span_record>> out;
    auto half = batch.begin() + static_cast<long>(batch.size() / 2);
    for (auto part : {std::vector<tracing::span_record>(batch.begin(), half),
                      std::vector<tracing::span_record>(half, batch.end())}) {
      auto more = split(part);
      if (more.empty()) out.push_back(std::move(part));
      else for (auto& m : more) out.push_back(std::move(m));
    }
    return out;
  }

  delivery_verdict judge(const net::http_request& req, const net::http_response& r,
                         const std::vector<tracing::span_record>& batch) const override {
    if (r.error != net::transport_error::none || r.status == 413 || (r.status >= 300 && r.status < 400))
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
      if (v.detail.empty()) v.detail = "HTTP " + std::to_string(r.status) + ": " + net::printable(r.body);
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

std::unique_ptr<http_sink_protocol> make_langfuse_legacy_protocol(const config::langfuse_settings& s,
                                                                  bool content) {
  return std::make_unique<langfuse_legacy_protocol>(s, content);
}

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
        if (n.is_number_unsigned() || n.is_number_integer()) v.rejected_spans = n.get<std::uint64_t>();
        else if (n.is_string()) v.rejected_spans = std::strtoull(n.get<std::string>().c_str(), nullptr, 10);
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
    v.detail = "HTTP " + std::to_string(r.status) + ": redirected to " +
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

std::unique_ptr<http_sink_protocol> make_langfuse_protocol(const config::langfuse_settings& s,
                                                           tracing::resource_info res,
                                                           bool content) {
  return std::make_unique<langfuse_protocol>(s, std::move(res), content);
}

std::unique_ptr<http_sink_protocol> make_otlp_protocol(const config::otlp_settings& s,
                                                       tracing::resource_info res) {
  return std::make_unique<otlp_protocol>("otlp", s.endpoint, s.headers, s.timeout_ms, s.gzip,
                                         std::move(res));
}

}  // namespace weft::exporting
