// The `http.request` node type: one HTTP call, retried by policy, each
// attempt its own CLIENT span under the node's span.
//
//   fetch:
//     type: http.request
//     params:
//       method: POST
//       url: "https://api.example.com/v1/items/{{id}}"
//       headers: {Authorization: "Bearer ${API_TOKEN}"}
//       body: '{"q": "{{query}}"}'          # or an input socket named `body` (sent as JSON)
//       timeout_ms: 30000
//       retry: {max_attempts: 3, initial_ms: 200, max_ms: 5000, on: [429, 5xx, transport]}
//       expect_status: 2xx                    # or 200, or [200, 404], or ["2xx", 304]
//     inputs: {id: $inputs.id, query: $inputs.q}
//
// Outputs: status, headers (lower-case names), body (parsed JSON when the
// answer says it is JSON, else text) and ok (the status was expected).
// `{{x}}` is escaped for where it goes: percent-encoded in the URL, JSON-
// escaped in a JSON body, as is in headers (components/template_escape.hpp).
// Header values never reach a span or a log: they carry credentials.
#include <cctype>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <set>

#include "components/mustache_data.hpp"
#include "components/register.hpp"
#include "components/template_escape.hpp"
#include "components/thread_rng.hpp"
#include "components/url_parts.hpp"
#include "net/printable.hpp"

namespace weft::components {
namespace {

using namespace flows;

// A status the node accepts: one code, or a whole class ("2xx").
struct status_rule {
  int code = 0;      // exact code, or
  int hundreds = 0;  // 2 for "2xx"
  bool matches(long s) const { return code ? s == code : s / 100 == hundreds; }
};

struct retry_policy {
  int max_attempts = 3;
  std::int64_t initial_ms = 200;
  std::int64_t max_ms = 5000;
  std::vector<status_rule> on_status = {{429, 0}, {0, 5}};
  bool on_transport = true;
};

struct settings {
  std::string method = "GET";
  std::string url;                                           // a mustache template
  std::vector<std::pair<std::string, std::string>> headers;  // value: a template
  std::optional<std::string> body;                           // a template
  escaping body_escape = escaping::none;                     // of {{x}} in `body`
  std::int64_t timeout_ms = 30000;
  retry_policy retry;
  std::vector<status_rule> expect = {{0, 2}};
  std::size_t max_depth = 64;  // of a JSON body (engine_options::max_value_depth)
};

// The longest a Retry-After may make the node wait.
constexpr std::int64_t max_retry_after_ms = 120000;

std::optional<status_rule> parse_status(const value& v) {
  if (v.is_number_integer()) {
    auto c = v.get<std::int64_t>();
    if (c >= 100 && c <= 599) return status_rule{static_cast<int>(c), 0};
    return std::nullopt;
  }
  if (v.is_string()) {
    auto s = v.get<std::string>();
    if (s.size() == 3 && s[0] >= '1' && s[0] <= '5' && (s[1] == 'x' || s[1] == 'X') &&
        (s[2] == 'x' || s[2] == 'X'))
      return status_rule{0, s[0] - '0'};
    if (s.size() == 3 && std::isdigit(static_cast<unsigned char>(s[0])) &&
        std::isdigit(static_cast<unsigned char>(s[1])) &&
        std::isdigit(static_cast<unsigned char>(s[2])))
      return parse_status(value(std::stoi(s)));
  }
  return std::nullopt;
}

bool any_match(const std::vector<status_rule>& rules, long s) {
  for (auto& r : rules)
    if (r.matches(s)) return true;
  return false;
}

// Retry-After: delta-seconds or an HTTP-date (RFC 9110), as milliseconds
// from now, capped; nullopt when absent or unreadable.
std::optional<std::int64_t> retry_after_ms(const http_response& r) {
  for (auto& [k, v] : r.headers) {
    if (k != "retry-after") continue;
    if (!v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
          return std::isdigit(static_cast<unsigned char>(c));
        }))
      return std::min<std::int64_t>(std::atoll(v.c_str()) * 1000, max_retry_after_ms);
    std::tm tm{};
    if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
      auto at = timegm(&tm);
      auto now = std::time(nullptr);
      return std::clamp<std::int64_t>((at - now) * 1000, 0, max_retry_after_ms);
    }
  }
  return std::nullopt;
}

bool is_json(const http_response& r) {
  for (auto& [k, v] : r.headers) {
    if (k != "content-type") continue;
    auto type = v.substr(0, v.find(';'));
    for (auto& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!type.empty() && type.back() == ' ') type.pop_back();
    return type == "application/json" ||
           (type.size() > 5 && type.compare(type.size() - 5, 5, "+json") == 0);
  }
  return false;
}

std::string render(const std::string& text, const mst::data& ctx, const std::string& what,
                   escaping e) {
  mst::mustache t{text};
  t.set_custom_escape([e](const std::string& v) { return escape_for(e, v); });
  auto out = t.render(ctx);
  if (!t.is_valid()) throw std::runtime_error("http.request: " + what + ": " + t.error_message());
  return out;
}

// One execution: attempts, waits and spans, all on the node's actor.
struct call : std::enable_shared_from_this<call> {
  const settings* cfg;
  node_context* ctx;
  http_request req;
  std::string shown_url;
  std::string host;
  std::int64_t port = 0;
  int attempt = 0;
  std::int64_t backoff_ms = 0;

  void send() {
    auto sp = ctx->start_span("HTTP " + req.method, span_kind::client);
    sp.set("http.request.method", req.method);
    sp.set("url.full", shown_url);
    sp.set("server.address", host);
    sp.set("server.port", port);
    if (attempt > 0) sp.set("http.request.resend_count", static_cast<std::int64_t>(attempt));
    auto self = shared_from_this();
    ctx->http(
        req, [self, sp](http_response r) mutable { self->done(std::move(r), sp); }, {}, sp);
  }

  // The next attempt after `wait_ms`, or nothing left to try.
  bool retry(std::int64_t wait_ms) {
    if (attempt + 1 >= cfg->retry.max_attempts) return false;
    ++attempt;
    auto self = shared_from_this();
    ctx->after(std::chrono::milliseconds(wait_ms), [self] { self->send(); });
    return true;
  }

  std::int64_t next_backoff() {
    backoff_ms =
        backoff_ms == 0 ? cfg->retry.initial_ms : std::min(backoff_ms * 2, cfg->retry.max_ms);
    // Full jitter over the upper half, so that many runs do not retry in step.
    std::uniform_int_distribution<std::int64_t> d(backoff_ms / 2, backoff_ms);
    return d(thread_rng());
  }

  void done(http_response r, span sp) {
    if (!r.error.empty()) {
      sp.set("error.type", r.error_type);
      sp.status(span_status::error, r.error);
      sp.end();
      // A malformed request fails the same way every time.
      if (cfg->retry.on_transport && r.error_type != "invalid" && retry(next_backoff())) return;
      ctx->fail("http.request: " + req.method + " " + shown_url + " failed after " +
                    std::to_string(attempt + 1) + " attempt(s): " + r.error,
                "http." + r.error_type);
      return;
    }
    sp.set("http.response.status_code", static_cast<std::int64_t>(r.status));
    bool expected = any_match(cfg->expect, r.status);
    if (!expected) {
      sp.set("error.type", std::to_string(r.status));
      sp.status(span_status::error, "HTTP " + std::to_string(r.status));
    }
    sp.end();
    if (!expected && any_match(cfg->retry.on_status, r.status)) {
      auto wait = retry_after_ms(r).value_or(next_backoff());
      if (retry(wait)) return;
    }
    if (!expected) {
      ctx->fail("http.request: " + req.method + " " + shown_url + " answered " +
                    std::to_string(r.status) + " (expected " + expect_text() +
                    "): " + r.body.substr(0, 200),
                "http." + std::to_string(r.status));
      return;
    }
    value headers = value::object();
    for (auto& [k, v] : r.headers) headers[k] = v;
    value body;
    if (is_json(r) && !r.body.empty()) {
      body = value::parse(r.body, nullptr, false);
      if (body.is_discarded()) {
        ctx->fail("http.request: " + shown_url + " said its body is JSON, but it does not parse",
                  "http.body");
        return;
      }
      if (value_depth(body, cfg->max_depth + 1) > cfg->max_depth) {
        ctx->fail("http.request: the JSON body of " + shown_url +
                      " nests arrays and objects deeper than " + std::to_string(cfg->max_depth) +
                      " levels",
                  "http.body");
        return;
      }
    } else {
      body = std::move(r.body);
    }
    ctx->complete({{"status", static_cast<std::int64_t>(r.status)},
                   {"headers", std::move(headers)},
                   {"body", std::move(body)},
                   {"ok", true}});
  }

  std::string expect_text() const {
    std::string out;
    for (auto& e : cfg->expect)
      out += (out.empty() ? "" : ", ") +
             (e.code ? std::to_string(e.code) : std::to_string(e.hundreds) + "xx");
    return out;
  }
};

class http_request_component final : public component {
 public:
  explicit http_request_component(settings s) : s_(std::move(s)) {}

  void start(node_context& ctx, value_map inputs) const override {
    auto data = mustache_context(inputs);
    auto c = std::make_shared<call>();
    c->cfg = &s_;
    c->ctx = &ctx;
    c->req.method = s_.method;
    c->req.url = render(s_.url, data, "params.url", escaping::url);
    c->req.timeout = std::chrono::milliseconds(s_.timeout_ms);
    if (!http_scheme(c->req.url)) {
      ctx.fail("http.request: params.url rendered to '" + net::display_url(c->req.url) +
                   "', which is not an http:// or https:// URL",
               "http.url");
      return;
    }
    for (auto& [k, v] : s_.headers) {
      auto text = render(v, data, "params.headers." + k, escaping::none);
      // The value is not quoted here: it may hold a secret from ${ENV}.
      if (header_breaker(text) != std::string::npos) {
        ctx.fail("http.request: header '" + k +
                     "' rendered to a value with a CR, LF or NUL byte (from an input?); a header "
                     "value must be one line",
                 "http.header");
        return;
      }
      c->req.headers.emplace_back(k, std::move(text));
    }
    if (s_.body) {
      c->req.body = render(*s_.body, data, "params.body", s_.body_escape);
    } else if (auto b = inputs.find("body"); b != inputs.end()) {
      c->req.body = b->second.dump();
      bool has_type = false;
      for (auto& [k, v] : c->req.headers)
        if (strcasecmp(k.c_str(), "content-type") == 0) has_type = true;
      if (!has_type) c->req.headers.emplace_back("Content-Type", "application/json");
    }
    c->shown_url = net::display_url(c->req.url);
    server_of(c->req.url, c->host, c->port);
    c->send();
  }

 private:
  settings s_;
};

void add_error(diagnostics& errs, const node_spec& n, const std::string& param, std::string msg) {
  auto loc = n.loc;
  if (auto i = n.param_locs.find(param); i != n.param_locs.end()) loc = i->second.value;
  errs.push_back({loc, "node '" + n.id + "': param '" + param + "': " + std::move(msg)});
}

bool check_template(const node_spec& n, const std::string& param, const std::string& text,
                    diagnostics& errs) {
  mst::mustache t{text};
  if (t.is_valid()) return true;
  add_error(errs, n, param, "does not parse as a template: " + t.error_message());
  return false;
}

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  settings s;
  s.max_depth = svc.max_value_depth;
  bool ok = true;
  const auto& p = n.params;
  s.method = p.value("method", std::string("GET"));
  for (auto& c : s.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::set<std::string> methods = {"GET",    "POST", "PUT",    "PATCH",
                                                "DELETE", "HEAD", "OPTIONS"};
  if (!methods.count(s.method)) {
    add_error(errs, n, "method",
              "'" + s.method + "' is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS");
    ok = false;
  }
  s.url = p.at("url").get<std::string>();
  ok = check_template(n, "url", s.url, errs) && ok;
  // The scheme is checked at load when the template starts with it.
  auto literal = s.url.substr(0, s.url.find("{{"));
  if (literal.find("://") != std::string::npos || literal.size() == s.url.size()) {
    if (!http_scheme(s.url)) {
      add_error(errs, n, "url",
                "'" + net::display_url(s.url) + "' must start with http:// or https://");
      ok = false;
    }
  }
  if (auto h = p.find("headers"); h != p.end()) {
    for (auto& [k, v] : h->items()) {
      if (!v.is_string()) {
        add_error(errs, n, "headers", "the value of '" + k + "' must be a string (a template)");
        ok = false;
        continue;
      }
      if (k.empty() || k.find_first_of(" :\r\n") != std::string::npos) {
        add_error(errs, n, "headers", "'" + k + "' is not a header name");
        ok = false;
        continue;
      }
      ok = check_template(n, "headers", v.get<std::string>(), errs) && ok;
      s.headers.emplace_back(k, v.get<std::string>());
    }
  }
  if (auto b = p.find("body"); b != p.end()) {
    s.body = b->get<std::string>();
    ok = check_template(n, "body", *s.body, errs) && ok;
    const std::string* type = nullptr;
    for (auto& [k, v] : s.headers)
      if (strcasecmp(k.c_str(), "content-type") == 0) type = &v;
    s.body_escape = body_escaping(type ? *type : std::string{}, type != nullptr, *s.body);
  }
  s.timeout_ms = p.value("timeout_ms", std::int64_t{30000});
  if (s.timeout_ms <= 0) {
    add_error(errs, n, "timeout_ms", "must be > 0");
    ok = false;
  }
  if (auto r = p.find("retry"); r != p.end()) {
    s.retry.max_attempts = static_cast<int>(r->value("max_attempts", std::int64_t{3}));
    s.retry.initial_ms = r->value("initial_ms", std::int64_t{200});
    s.retry.max_ms = r->value("max_ms", std::int64_t{5000});
    if (s.retry.max_attempts < 1 || s.retry.max_attempts > 20 || s.retry.initial_ms < 0 ||
        s.retry.max_ms < s.retry.initial_ms) {
      add_error(errs, n, "retry", "want max_attempts 1..20 and 0 <= initial_ms <= max_ms");
      ok = false;
    }
    if (auto on = r->find("on"); on != r->end()) {
      s.retry.on_status.clear();
      s.retry.on_transport = false;
      for (auto& x : *on) {
        if (x == "transport") {
          s.retry.on_transport = true;
        } else if (auto rule = parse_status(x)) {
          s.retry.on_status.push_back(*rule);
        } else {
          add_error(errs, n, "retry",
                    "'on' takes status codes, classes like 5xx, and transport; got " + x.dump());
          ok = false;
        }
      }
    }
  }
  if (auto e = p.find("expect_status"); e != p.end()) {
    s.expect.clear();
    auto one = [&](const value& x) {
      if (auto rule = parse_status(x)) s.expect.push_back(*rule);
      else {
        add_error(errs, n, "expect_status",
                  "want a status (200), a class (2xx) or a list of them; got " + x.dump());
        ok = false;
      }
    };
    if (e->is_array())
      for (auto& x : *e) one(x);
    else one(*e);
  }
  if (!ok) return nullptr;
  return std::make_shared<http_request_component>(std::move(s));
}

}  // namespace

void register_http(flows::registry& r) {
  flows::component_descriptor d{"http.request",
                                "One HTTP request (templated URL, headers and body), retried by "
                                "policy; each attempt a CLIENT span.",
                                {},
                                true,
                                {"status", "headers", "body", "ok"},
                                {{"method", value_type::string, false},
                                 {"url", value_type::string, true},
                                 {"headers", value_type::object, false},
                                 {"body", value_type::string, false},
                                 {"timeout_ms", value_type::integer, false},
                                 {"retry", value_type::object, false},
                                 {"expect_status", value_type::any, false}},
                                false,
                                make};
  d.opens_spans = true;  // a CLIENT span per attempt
  r.add(std::move(d));
}

}  // namespace weft::components
