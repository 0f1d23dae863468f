#include "serve/service.hpp"

#include <strings.h>

#include <chrono>

#include "serve/auth.hpp"
#include "tracing/ids.hpp"
#include "tracing/traceparent.hpp"

namespace weft::serve {

namespace {

using net::json_error;
using net::server_response;

server_response json_ok(int status, const flows::value& body) {
  server_response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump(-1, ' ', false, flows::value::error_handler_t::replace);
  return r;
}

server_response method_not_allowed(const std::string& method, const std::string& path,
                                   const char* allow) {
  auto r = json_error(405, "method_not_allowed",
                      method + " is not allowed on " + path + "; use " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

bool is_json_media_type(std::string_view ct) {
  auto semi = ct.find(';');
  auto type = ct.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  if (type.size() == 16 && strncasecmp(type.data(), "application/json", 16) == 0) return true;
  // Structured syntax suffix (RFC 6839), e.g. application/vnd.x+json.
  return type.size() > 5 && strncasecmp(type.data() + type.size() - 5, "+json", 5) == 0;
}

// "input 'n': expected integer, got string; missing required input 'x' (string)"
// -> [{"field": "inputs.n", "message": ...}, {"field": "inputs.x", ...}]
flows::value input_error_details(const std::string& errors) {
  flows::value details = flows::value::array();
  std::size_t pos = 0;
  while (pos <= errors.size()) {
    auto end = errors.find("; ", pos);
    auto one = errors.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    flows::value d = {{"message", one}};
    auto q1 = one.find('\'');
    auto q2 = q1 == std::string::npos ? q1 : one.find('\'', q1 + 1);
    if (q2 != std::string::npos) d["field"] = "inputs." + one.substr(q1 + 1, q2 - q1 - 1);
    details.push_back(std::move(d));
    if (end == std::string::npos) break;
    pos = end + 2;
  }
  return details;
}

// A body field of the wrong type -> 400 naming the field.
server_response bad_field(const std::string& field, const std::string& want) {
  return json_error(400, "invalid_request",
                    "field '" + field + "' must be " + want,
                    flows::value::array({{{"field", field}, {"message", "must be " + want}}}).dump());
}

std::string traceparent_of(const run_result& r) {
  auto t = tracing::trace_id::from_hex(r.trace_id);
  auto s = tracing::span_id::from_hex(r.root_span_id);
  if (!t || !s) return {};
  return tracing::format_traceparent(*t, *s, r.sampled);
}

}  // namespace

service::service(engine& eng, flow_catalog flows, service_config cfg)
    : eng_(eng), flows_(std::move(flows)), cfg_(std::move(cfg)) {
  for (auto& [name, _] : flows_.all()) metrics_.register_flow(name);
}

bool service::admit() {
  auto cur = inflight_.load();
  do {
    if (cur >= static_cast<std::int64_t>(cfg_.max_inflight)) return false;
  } while (!inflight_.compare_exchange_weak(cur, cur + 1));
  return true;
}

void service::handle(net::server_request req, net::responder reply) {
  const auto& path = req.path;
  const bool get = req.method == "GET" || req.method == "HEAD";

  if (path == "/healthz") {
    if (!get) return reply(method_not_allowed(req.method, path, "GET"));
    return reply(json_ok(200, {{"status", "ok"}}));
  }
  if (!cfg_.api_key.empty() && !bearer_matches(req.header("authorization"), cfg_.api_key)) {
    auto r = json_error(401, "unauthorized",
                        req.header("authorization")
                            ? "the bearer token is not valid"
                            : "this server needs an 'Authorization: Bearer <key>' header");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"weft\"");
    return reply(std::move(r));
  }
  if (path == "/readyz") {
    if (!get) return reply(method_not_allowed(req.method, path, "GET"));
    if (draining_.load())
      return reply(json_error(503, "draining", "the server is shutting down"));
    auto flows = flows_.size();
    eng_.stats(
        [reply, flows](std::optional<actors::exporter_stats> s) {
          if (!s) return reply(json_error(503, "exporter_down", "the trace exporter did not answer"));
          reply(json_ok(200, {{"status", "ready"}, {"flows", flows}}));
        },
        std::chrono::seconds(2));
    return;
  }
  if (path == "/metrics") {
    if (!get) return reply(method_not_allowed(req.method, path, "GET"));
    eng_.stats(
        [this, reply](std::optional<actors::exporter_stats> s) {
          server_response r;
          r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
          r.body = metrics_.render(s ? *s : actors::exporter_stats{});
          reply(std::move(r));
        },
        std::chrono::seconds(2));
    return;
  }

  constexpr std::string_view prefix = "/v1/flows";
  if (path == prefix) {
    if (!get) return reply(method_not_allowed(req.method, path, "GET"));
    flows::value list = flows::value::array();
    for (auto& [_, f] : flows_.all()) list.push_back(flow_catalog::describe(*f));
    return reply(json_ok(200, {{"flows", std::move(list)}}));
  }
  if (path.size() > prefix.size() + 1 && path.compare(0, prefix.size(), prefix) == 0 &&
      path[prefix.size()] == '/') {
    auto rest = path.substr(prefix.size() + 1);
    bool runs = false;
    if (auto slash = rest.find('/'); slash != std::string::npos) {
      if (rest.substr(slash) != "/runs")
        return reply(json_error(404, "not_found", "no route for " + path));
      rest.resize(slash);
      runs = true;
    }
    if (runs && req.method != "POST") return reply(method_not_allowed(req.method, path, "POST"));
    if (!runs && !get) return reply(method_not_allowed(req.method, path, "GET"));
    auto flow = flows_.find(rest);
    if (!flow)
      return reply(json_error(404, "unknown_flow",
                              "no flow named '" + rest + "'; GET /v1/flows lists the served flows"));
    if (!runs) return reply(json_ok(200, flow_catalog::describe(*flow)));
    return start_run(flow, req, reply);
  }
  reply(json_error(404, "not_found",
                   "no route for " + path + "; see /v1/flows, /healthz, /readyz, /metrics"));
}

void service::start_run(const std::shared_ptr<const flows::plan>& flow,
                        net::server_request& req, net::responder& reply) {
  const std::string& flow_name = flow->name();
  // The body: a JSON object, or nothing at all (no inputs).
  flows::value body = flows::value::object();
  if (!req.body.empty()) {
    auto ct = req.header("content-type");
    if (!ct || !is_json_media_type(*ct))
      return reply(json_error(415, "unsupported_media_type",
                              "the body must be JSON: send 'Content-Type: application/json'" +
                                  (ct ? " (got '" + *ct + "')" : std::string())));
    try {
      body = flows::value::parse(req.body);
    } catch (const flows::value::parse_error& e) {
      return reply(json_error(400, "invalid_json",
                              "the body is not valid JSON at byte " + std::to_string(e.byte) +
                                  ": " + e.what()));
    }
    if (!body.is_object())
      return reply(json_error(400, "invalid_request",
                              std::string("the body must be a JSON object, got ") + body.type_name()));
  }
  run_options ro;
  flows::value_map inputs;
  for (auto& [key, v] : body.items()) {
    if (key == "inputs") {
      if (!v.is_object()) return reply(bad_field("inputs", "an object"));
      for (auto& [k, x] : v.items()) inputs.emplace(k, x);
    } else if (key == "session_id") {
      if (!v.is_string()) return reply(bad_field("session_id", "a string"));
      ro.session_id = v.get<std::string>();
    } else if (key == "user_id") {
      if (!v.is_string()) return reply(bad_field("user_id", "a string"));
      ro.user_id = v.get<std::string>();
    } else if (key == "timeout_ms") {
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0)
        return reply(bad_field("timeout_ms", "a positive integer (milliseconds)"));
      ro.timeout_ms = v.get<std::int64_t>();
    } else {
      return reply(json_error(
          400, "invalid_request",
          "unknown field '" + key + "' in the body; expected inputs, session_id, user_id, timeout_ms",
          flows::value::array({{{"field", key}, {"message", "unknown field"}}}).dump()));
    }
  }
  if (ro.session_id.empty())
    if (auto h = req.header("x-session-id")) ro.session_id = *h;
  if (ro.user_id.empty())
    if (auto h = req.header("x-user-id")) ro.user_id = *h;
  if (auto h = req.header("traceparent")) ro.traceparent = *h;
  // Several tracestate fields make one list, joined in order (W3C, RFC 9110).
  for (auto& [name, value] : req.headers)
    if (strcasecmp(name.c_str(), "tracestate") == 0)
      ro.tracestate += (ro.tracestate.empty() ? "" : ",") + value;

  if (auto err = eng_.prepare_inputs(*flow, inputs); !err.empty()) {
    metrics_.run_rejected(flow_name);
    return reply(json_error(400, "invalid_inputs", err, input_error_details(err).dump()));
  }
  if (!admit()) {
    metrics_.run_rejected(flow_name);
    auto r = json_error(503, "overloaded",
                        std::to_string(cfg_.max_inflight) +
                            " runs are in flight (--max-inflight); retry later");
    r.headers.emplace_back("Retry-After", std::to_string(cfg_.retry_after_s));
    return reply(std::move(r));
  }
  metrics_.run_started();
  eng_.run(flow, std::move(inputs), std::move(ro),
           [this, reply, flow_name](run_result r) {
             inflight_--;
             auto tp = traceparent_of(r);
             server_response resp;
             if (r.ok) {
               metrics_.run_finished(flow_name, run_status::ok, r.duration_ms / 1000.0);
               flows::value body = {{"run_id", r.run_id},
                                    {"trace_id", r.trace_id},
                                    {"outputs", r.outputs_json()},
                                    {"duration_ms", r.duration_ms}};
               if (!r.warning.empty()) body["warning"] = r.warning;
               resp = json_ok(200, body);
             } else {
               flows::value detail = {{"run_id", r.run_id}, {"trace_id", r.trace_id}};
               if (!r.failed_node.empty()) detail["node"] = r.failed_node;
               if (r.timed_out) {
                 metrics_.run_finished(flow_name, run_status::timeout, r.duration_ms / 1000.0);
                 resp = json_error(504, "run_timeout", r.error, flows::value::array({detail}).dump());
               } else {
                 metrics_.run_finished(flow_name, run_status::failed, r.duration_ms / 1000.0);
                 resp = json_error(422, "run_failed", r.error, flows::value::array({detail}).dump());
               }
             }
             if (!tp.empty()) resp.headers.emplace_back("traceparent", std::move(tp));
             reply(std::move(resp));
           });
}

}  // namespace weft::serve
