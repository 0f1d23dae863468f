#include "serve/service.hpp"

#include "serve/json_body.hpp"
#include "serve/openai.hpp"

#include <ctime>

#include <strings.h>

#include <chrono>

#include <caf/all.hpp>

#include "net/json_text.hpp"
#include "serve/auth.hpp"
#include "tracing/ids.hpp"
#include "tracing/traceparent.hpp"

namespace weft::serve {

namespace {

using net::json_error;
using net::server_response;

server_response method_not_allowed(const std::string& method, const std::string& path,
                                   const char* allow) {
  auto r = json_error(405, "method_not_allowed",
                      method + " is not allowed on " + path + "; use " + allow);
  r.headers.emplace_back("Allow", allow);
  return r;
}

// At most this many entries in an error's details, then one that says how
// many more there were: 60,000 bad keys must not make a 4 MB answer.
constexpr std::size_t max_details = 20;

// The 400 for bad inputs: one detail per problem, "inputs.<name>" as the
// field when the problem is about one input.
server_response invalid_inputs(const std::vector<weft::error>& problems) {
  flows::value details = flows::value::array();
  std::string message;
  std::size_t shown = std::min(problems.size(), max_details);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto& p = problems[i];
    flows::value d = {{"message", p.message}};
    if (!p.field.empty()) d["field"] = "inputs." + p.field;
    details.push_back(std::move(d));
    message += (message.empty() ? "" : "; ") + p.message;
  }
  if (problems.size() > shown) {
    auto more = "... and " + std::to_string(problems.size() - shown) + " more";
    details.push_back({{"message", more}});
    message += "; " + more;
  }
  return json_error(400, "invalid_inputs", message, dump(details));
}

// A body field of the wrong type -> 400 naming the field.
server_response bad_field(const std::string& field, const std::string& want) {
  return json_error(
      400, "invalid_request", "field '" + field + "' must be " + want,
      dump(flows::value::array({{{"field", field}, {"message", "must be " + want}}})));
}

// A session or user id over the cap: it would be copied onto every span.
server_response too_long(const std::string& field, std::size_t max) {
  auto msg = "at most " + std::to_string(max) + " bytes";
  return json_error(400, "invalid_request", "'" + field + "' is longer than " + msg,
                    dump(flows::value::array({{{"field", field}, {"message", msg}}})));
}

// The HTTP server's own counters, in the same Prometheus text format.
std::string server_series(const net::http_server& srv) {
  std::string out;
  auto series = [&](const char* name, const char* type, const char* help, std::uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  series("weft_http_answers_dropped_total", "counter",
         "Answers never written because their connection was reset or closed by the peer first.",
         srv.answers_dropped());
  series("weft_http_forced_closes_total", "counter",
         "Connections reset by the server: a client that stopped reading, or open at the drain "
         "deadline.",
         srv.forced_closes());
  series("weft_http_busy_refusals_total", "counter",
         "Requests refused with 503 because buffered bytes reached --max-buffered-bytes.",
         srv.busy_refusals());
  series("weft_http_buffered_bytes", "gauge",
         "Request body and unsent answer bytes held now, over all connections.",
         srv.buffered_bytes());
  return out;
}

std::string stream_series(const stream_counters& c) {
  std::string out;
  auto series = [&](const char* name, const char* type, const char* help, auto v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  series("weft_sse_streams_active", "gauge", "Event streams of runs open now.", c.active.load());
  series("weft_sse_overflows_total", "counter",
         "Event streams ended because their client fell --max-stream-buffer-bytes behind.",
         c.overflows.load());
  series("weft_run_events_total", "counter", "Run events sent on event streams.", c.events.load());
  return out;
}

std::string traceparent_of(const run_result& r) {
  auto t = tracing::trace_id::from_hex(r.trace_id);
  auto s = tracing::span_id::from_hex(r.root_span_id);
  if (!t || !s) return {};
  return tracing::format_traceparent(*t, *s, r.sampled);
}

}  // namespace

service::service(engine& eng, flow_catalog flows, service_config cfg)
    : eng_(eng),
      flows_(std::move(flows)),
      cfg_(std::move(cfg)),
      heartbeat_(cfg_.heartbeat),
      started_unix_(static_cast<std::int64_t>(std::time(nullptr))),
      background_(cfg_.background) {
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
  const bool openai = path == "/v1/models" || path == "/v1/chat/completions";
  if (openai && !cfg_.api_key.empty() && !bearer_matches(req.header("authorization"), cfg_.api_key))
    return reply(
        openai_error(401, "invalid_request_error",
                     req.header("authorization")
                         ? "Incorrect API key provided."
                         : "You didn't provide an API key: send 'Authorization: Bearer <key>'.",
                     {}, "invalid_api_key"));
  if (path == "/v1/models") {
    if (!get)
      return reply(openai_error(405, "invalid_request_error",
                                req.method + " is not allowed on " + path + "; use GET"));
    return openai_models(reply);
  }
  if (path == "/v1/chat/completions") {
    if (req.method != "POST")
      return reply(openai_error(405, "invalid_request_error",
                                req.method + " is not allowed on " + path + "; use POST"));
    if (req.body.size() >= cfg_.offload_body_bytes) {
      engine_internals::system(eng_).spawn(
          [this, req = std::move(req), reply](caf::event_based_actor*) mutable {
            openai_chat(req, reply);
          });
      return;
    }
    return openai_chat(req, reply);
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
    if (draining_.load()) return reply(json_error(503, "draining", "the server is shutting down"));
    auto flows = flows_.size();
    eng_.stats(
        [reply, flows](const std::optional<exporting::exporter_stats>& s) {
          if (!s)
            return reply(json_error(503, "exporter_down", "the trace exporter did not answer"));
          reply(json_ok(200, {{"status", "ready"}, {"flows", flows}}));
        },
        std::chrono::seconds(2));
    return;
  }
  if (path == "/metrics") {
    if (!get) return reply(method_not_allowed(req.method, path, "GET"));
    eng_.stats(
        [this, reply](std::optional<exporting::exporter_stats> s) {
          server_response r;
          r.headers.emplace_back("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
          r.body = metrics_.render(s ? *s : exporting::exporter_stats{});
          if (server_) r.body += server_series(*server_);
          r.body += stream_series(streams_);
          if (genai_) r.body += genai_->render();
          r.body +=
              "# HELP weft_background_runs Background runs kept, by status.\n# TYPE "
              "weft_background_runs gauge\n";
          for (auto& [status, n] : background_.counts())
            r.body += "weft_background_runs{status=\"" + status + "\"} " + std::to_string(n) + "\n";
          reply(std::move(r));
        },
        std::chrono::seconds(2));
    return;
  }

  if (path.rfind("/v1/runs/", 0) == 0) return run_route(req, reply);

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
      return reply(
          json_error(404, "unknown_flow",
                     "no flow named '" + rest + "'; GET /v1/flows lists the served flows"));
    if (!runs) return reply(json_ok(200, flow_catalog::describe(*flow)));
    // A large body is parsed and checked on a scheduler thread: the I/O
    // thread serves every connection, and 0.8 MB of JSON with 60,000 keys
    // kept it busy for seconds. A small one is parsed here, where it costs
    // microseconds and no thread hand-off (bench/RESULTS.md has both).
    if (req.body.size() >= cfg_.offload_body_bytes) {
      engine_internals::system(eng_).spawn(
          [this, flow, req = std::move(req), reply](caf::event_based_actor*) mutable {
            start_run(flow, req, reply);
          });
      return;
    }
    return start_run(flow, req, reply);
  }
  reply(json_error(404, "not_found",
                   "no route for " + path + "; see /v1/flows, /healthz, /readyz, /metrics"));
}

void service::start_background(const std::shared_ptr<const flows::plan>& flow,
                               flows::value_map inputs, run_options ro,
                               const net::responder& reply) {
  const std::string flow_name = flow->name();
  auto canceller = std::make_shared<run_canceller>();
  auto id = background_.add(flow_name, canceller);
  if (!id) {
    inflight_--;  // admitted, never started
    metrics_.run_rejected(flow_name);
    auto r = json_error(503, "history_full",
                        "every background run kept is still going (--run-history); retry later");
    r.headers.emplace_back("Retry-After", std::to_string(cfg_.retry_after_s));
    return reply(std::move(r));
  }
  metrics_.run_started();
  ro.canceller = canceller;
  auto* bg = &background_;
  ro.on_event = [bg, id = *id](const run_event& e) {
    if (e.type == run_event::kind::run_finished) return;
    auto j = e.to_json();
    bg->event(id, j.value("event", ""), dump(j));
  };
  reply(json_ok(202, {{"run_id", *id},
                      {"status_url", "/v1/runs/" + *id},
                      {"events_url", "/v1/runs/" + *id + "/events"}}));
  background_.started(*id);
  eng_.run(flow, std::move(inputs), std::move(ro),
           [this, bg, id = *id, flow_name](const run_result& r) {
             bg->finished(id, r);
             inflight_--;
             auto status = r.ok          ? run_status::ok
                           : r.timed_out ? run_status::timeout
                                         : run_status::failed;
             metrics_.run_finished(flow_name, status, r.duration_ms / 1000.0);
           });
}

void service::run_route(net::server_request& req, const net::responder& reply) {
  auto rest = req.path.substr(std::string_view("/v1/runs/").size());
  bool events = false;
  if (auto slash = rest.find('/'); slash != std::string::npos) {
    if (rest.substr(slash) != "/events")
      return reply(json_error(404, "not_found", "no route for " + req.path));
    rest.resize(slash);
    events = true;
  }
  const bool get = req.method == "GET" || req.method == "HEAD";
  auto unknown = [&] {
    reply(json_error(404, "unknown_run",
                     "no background run '" + rest +
                         "' (it never existed, or --run-history / --run-ttl-s let it go)"));
  };
  if (events) {
    if (!get) return reply(method_not_allowed(req.method, req.path, "GET"));
    std::uint64_t after = 0;
    if (auto h = req.header("last-event-id")) after = std::strtoull(h->c_str(), nullptr, 10);
    if (!background_.follow(rest, after, reply, cfg_.max_stream_buffer_bytes)) unknown();
    return;
  }
  if (req.method == "DELETE") {
    auto status = background_.cancel(rest);
    if (!status) return unknown();
    return reply(json_ok(202, {{"run_id", rest}, {"status", *status}}));
  }
  if (!get) return reply(method_not_allowed(req.method, req.path, "GET, DELETE"));
  auto s = background_.status(rest);
  if (!s) return unknown();
  reply(json_ok(200, *s));
}

void service::trace_headers(const net::server_request& req, run_options& ro) {
  if (auto h = req.header("traceparent")) ro.traceparent = *h;
  // Several tracestate fields make one list, joined in order (W3C, RFC 9110).
  for (auto& [name, value] : req.headers)
    if (strcasecmp(name.c_str(), "tracestate") == 0)
      ro.tracestate += (ro.tracestate.empty() ? "" : ",") + value;
}

void service::start_run(const std::shared_ptr<const flows::plan>& flow, net::server_request& req,
                        net::responder& reply) {
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
      body = parse_body(req.body, cfg_.max_depth);
    } catch (const too_deep& e) {
      return reply(json_error(400, "too_deep", e.what()));
    } catch (const flows::value::parse_error& e) {
      return reply(json_error(
          400, "invalid_json",
          "the body is not valid JSON at byte " + std::to_string(e.byte) + ": " + e.what()));
    } catch (const flows::value::exception& e) {
      // Not a syntax error but a value JSON cannot hold here, e.g. 1e400
      // (nlohmann: "number overflow").
      return reply(
          json_error(400, "invalid_json", std::string("the body is not usable JSON: ") + e.what()));
    }
    if (!body.is_object())
      return reply(
          json_error(400, "invalid_request",
                     std::string("the body must be a JSON object, got ") + body.type_name()));
  }
  run_options ro;
  flows::value_map inputs;
  // An event stream when the client asks for one, by header or in the body.
  std::optional<bool> stream;
  bool keep_on_disconnect = false;
  bool background = false;
  for (auto& [key, v] : body.items()) {
    if (key == "inputs") {
      if (!v.is_object()) return reply(bad_field("inputs", "an object"));
      for (auto& [k, x] : v.items()) inputs.emplace(k, x);
    } else if (key == "session_id") {
      if (!v.is_string()) return reply(bad_field("session_id", "a string"));
      ro.session_id = v.get<std::string>();
      if (ro.session_id.size() > cfg_.max_id_bytes)
        return reply(too_long("session_id", cfg_.max_id_bytes));
    } else if (key == "user_id") {
      if (!v.is_string()) return reply(bad_field("user_id", "a string"));
      ro.user_id = v.get<std::string>();
      if (ro.user_id.size() > cfg_.max_id_bytes)
        return reply(too_long("user_id", cfg_.max_id_bytes));
    } else if (key == "timeout_ms") {
      // Unsigned JSON integers past INT64_MAX read as negative here, so one
      // range check covers them too.
      if (!v.is_number_integer() || v.get<std::int64_t>() <= 0 ||
          v.get<std::int64_t>() > cfg_.max_timeout_ms)
        return reply(bad_field(
            "timeout_ms",
            "an integer from 1 to " + std::to_string(cfg_.max_timeout_ms) + " (milliseconds)"));
      ro.timeout_ms = v.get<std::int64_t>();
    } else if (key == "stream") {
      if (!v.is_boolean()) return reply(bad_field("stream", "true or false"));
      stream = v.get<bool>();
    } else if (key == "background") {
      if (!v.is_boolean()) return reply(bad_field("background", "true or false"));
      background = v.get<bool>();
    } else if (key == "on_disconnect") {
      if (!v.is_string() || (v != "cancel" && v != "continue"))
        return reply(bad_field("on_disconnect", "\"cancel\" (the default) or \"continue\""));
      keep_on_disconnect = v == "continue";
    } else {
      return reply(
          json_error(400, "invalid_request",
                     "unknown field '" + key +
                         "' in the body; expected inputs, session_id, user_id, timeout_ms, stream, "
                         "on_disconnect, background",
                     dump(flows::value::array({{{"field", key}, {"message", "unknown field"}}}))));
    }
  }
  if (ro.session_id.empty())
    if (auto h = req.header("x-session-id")) {
      if (h->size() > cfg_.max_id_bytes) return reply(too_long("X-Session-Id", cfg_.max_id_bytes));
      ro.session_id = *h;
    }
  if (ro.user_id.empty())
    if (auto h = req.header("x-user-id")) {
      if (h->size() > cfg_.max_id_bytes) return reply(too_long("X-User-Id", cfg_.max_id_bytes));
      ro.user_id = *h;
    }
  trace_headers(req, ro);

  if (auto problems = eng_.prepare_inputs(flow, inputs); !problems.empty()) {
    metrics_.run_rejected(flow_name);
    return reply(invalid_inputs(problems));
  }
  if (!admit()) {
    metrics_.run_rejected(flow_name);
    auto r = json_error(
        503, "overloaded",
        std::to_string(cfg_.max_inflight) + " runs are in flight (--max-inflight); retry later");
    r.headers.emplace_back("Retry-After", std::to_string(cfg_.retry_after_s));
    return reply(std::move(r));
  }
  if (background) return start_background(flow, std::move(inputs), std::move(ro), reply);
  metrics_.run_started();
  if (!stream) {
    auto accept = req.header("accept");
    stream = accept && accept->find("text/event-stream") != std::string::npos;
  }
  if (*stream) {
    run_stream_options so;
    so.max_buffer_bytes = cfg_.max_stream_buffer_bytes;
    so.continue_on_disconnect = keep_on_disconnect;
    stream_run(eng_, flow, std::move(inputs), std::move(ro), reply, so, streams_, heartbeat_,
               [this, flow_name](const run_result& r) {
                 inflight_--;
                 auto status = r.ok          ? run_status::ok
                               : r.timed_out ? run_status::timeout
                                             : run_status::failed;
                 metrics_.run_finished(flow_name, status, r.duration_ms / 1000.0);
               });
    return;
  }
  eng_.run(flow, std::move(inputs), std::move(ro), [this, reply, flow_name](run_result r) {
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
        resp = json_error(504, "run_timeout", r.error, dump(flows::value::array({detail})));
      } else if (r.worker_lost || r.no_worker) {
        // The cluster's fault, not the run's: 502 when its worker went
        // away with it, 503 when no worker could take it.
        metrics_.run_finished(flow_name, run_status::failed, r.duration_ms / 1000.0);
        resp = r.worker_lost
                   ? json_error(502, "worker_lost", r.error, dump(flows::value::array({detail})))
                   : json_error(503, "no_worker", r.error, dump(flows::value::array({detail})));
      } else {
        metrics_.run_finished(flow_name, run_status::failed, r.duration_ms / 1000.0);
        resp = json_error(422, "run_failed", r.error, dump(flows::value::array({detail})));
      }
    }
    if (!tp.empty()) resp.headers.emplace_back("traceparent", std::move(tp));
    reply(std::move(resp));
  });
}

}  // namespace weft::serve
