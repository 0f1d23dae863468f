#include "cli/worker_probe.hpp"

#include <nlohmann/json.hpp>

namespace weft::cli {

namespace {

net::server_response json_answer(int status, const nlohmann::json& body) {
  net::server_response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("Cache-Control", "no-store");
  r.body = body.dump();
  return r;
}

}  // namespace

std::unique_ptr<net::http_server> start_worker_probe(
    caf::actor_system& sys, const cluster::endpoint& at, probe_facts facts,
    const std::shared_ptr<cluster::worker_counters>& counters, std::string& why) {
  net::http_server_config cfg;
  cfg.host = at.host;
  cfg.port = at.port;
  // Probes are tiny and few: a small server, whatever knocks on it.
  cfg.max_connections = 64;
  cfg.max_buffered_bytes = std::size_t{1} << 20;
  auto handler = [facts = std::move(facts), counters](const net::server_request& req,
                                                      const net::responder& reply) {
    if (req.method != "GET" && req.method != "HEAD") {
      auto r = net::json_error(405, "method_not_allowed", "the probe answers GET only");
      r.headers.emplace_back("Allow", "GET, HEAD");
      reply(std::move(r));
      return;
    }
    if (req.path == "/healthz") {
      reply(json_answer(200, {{"status", "ok"}}));
      return;
    }
    if (req.path != "/readyz") {
      reply(net::json_error(404, "not_found", "the probe serves /healthz and /readyz"));
      return;
    }
    const bool ready = counters->ready.load();
    nlohmann::json body = {{"ready", ready},
                           {"name", facts.name},
                           {"tags", facts.tags},
                           {"flows", facts.flows},
                           {"in_flight", counters->in_flight.load()},
                           {"max_in_flight", facts.max_in_flight},
                           {"runs_done", counters->runs_done.load()},
                           {"fronts", counters->fronts.load()},
                           {"hellos_refused", counters->hellos_refused.load()}};
    reply(json_answer(ready ? 200 : 503, body));
  };
  auto srv = net::http_server::start(sys, std::move(cfg), std::move(handler));
  if (!srv) {
    why = "cannot serve the probe on " + at.to_string() + ": " + sys.render(srv.error());
    return nullptr;
  }
  return std::move(*srv);
}

}  // namespace weft::cli
