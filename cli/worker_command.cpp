// `weft worker --flows DIR --listen HOST:PORT`: a cluster node. It loads
// the flows of a folder, publishes its gate through CAF's middleman, and
// runs what fronts (`weft serve --workers`, `weft load --workers`, an
// engine with engine_options::workers) send it, in their traces, its spans
// going to its own sinks. SIGTERM or SIGINT: it tells fronts it is no
// longer ready, lets its runs finish, flushes its traces and exits 0.
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/engine_setup.hpp"
#include "cli/interrupt.hpp"
#include "cli/worker_probe.hpp"
#include "cluster/tls.hpp"
#include "cluster/worker_host.hpp"
#include "serve/flow_catalog.hpp"

namespace weft::cli {

namespace {

std::vector<std::string> split_tags(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string t;
  while (std::getline(in, t, ','))
    if (!t.empty()) out.push_back(t);
  return out;
}

}  // namespace

int worker_command(const worker_opts& o) {
  cluster::endpoint at;
  std::string why;
  if (!cluster::parse_endpoint(o.listen, at, why)) {
    std::cerr << "weft: error: --listen: " << why << '\n';
    return exit_usage;
  }
  const char* key = std::getenv("WEFT_CLUSTER_KEY");
  if (!key || !*key) {
    std::cerr << "weft: error: WEFT_CLUSTER_KEY is not set: a worker runs only what fronts "
                 "that know the cluster key send it; set the same key on the workers and fronts\n";
    return exit_usage;
  }
  if (o.max_inflight < 0) {
    std::cerr << "weft: error: --max-inflight must be 0 (no limit) or more\n";
    return exit_usage;
  }
  cluster::endpoint probe_at;
  if (!o.probe.empty() && !cluster::parse_endpoint(o.probe, probe_at, why)) {
    std::cerr << "weft: error: --probe: " << why << '\n';
    return exit_usage;
  }
  const auto tags = split_tags(o.tags);
  for (const auto& t : tags) {
    // The rule flows' placement tags follow, so that any tag given here
    // can be asked for.
    const bool fine =
        t.size() <= 64 && std::all_of(t.begin(), t.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
        });
    if (!fine) {
      std::cerr << "weft: error: --tags: bad tag '" << t
                << "'; tags match [A-Za-z0-9_.-] and are 1 to 64 characters long\n";
      return exit_usage;
    }
  }
  run_common rc;
  rc.trace_file = o.trace_file;
  rc.config_file = o.config_file;
  auto opts = make_engine_options(rc);
  if (!opts) return exit_usage;
  opts->network = true;
  if (!o.tls_cert.empty()) opts->cluster_tls.certificate_file = o.tls_cert;
  if (!o.tls_key.empty()) opts->cluster_tls.key_file = o.tls_key;
  if (!o.tls_ca.empty()) opts->cluster_tls.ca_file = o.tls_ca;
  const bool tls = opts->cluster_tls.enabled();
  auto eng = start_engine(std::move(*opts));
  if (!eng) return exit_usage;

  serve::flow_catalog catalog;
  std::vector<std::string> errors;
  if (!catalog.load_dir(*eng, o.flows_dir, errors)) {
    for (auto& e : errors) std::cerr << e << '\n';
    std::cerr << "weft: error: not starting: fix the flows above (weft validate shows the same)\n";
    return exit_usage;
  }

  auto counters = std::make_shared<cluster::worker_counters>();
  cluster::worker_host_config wc;
  wc.name = o.name.empty() ? at.to_string() : o.name;
  wc.key = key;
  wc.tags = tags;
  wc.max_in_flight = o.max_inflight;
  for (const auto& [name, plan] : catalog.all()) wc.flows[name] = plan->spec.content_hash;
  engine* e = eng.get();
  // The flow this worker has under the name a front sent, if it is the
  // same version; otherwise `done` is told why and null comes back.
  auto lookup = [&catalog](const cluster::run_request& req,
                           const std::function<void(cluster::run_reply)>& done)
      -> std::shared_ptr<const flows::plan> {
    auto plan = catalog.find(req.flow);
    if (plan && plan->spec.content_hash == req.flow_hash) return plan;
    cluster::run_reply r;
    r.run_id = req.run_id;
    r.trace_id = req.trace.trace_id;
    r.error = plan ? "flow '" + req.flow + "' differs between the front (content hash " +
                         req.flow_hash + ") and this worker (" + plan->spec.content_hash +
                         "): deploy the same flow file to both"
                   : "this worker has no flow '" + req.flow + "'";
    done(std::move(r));
    return nullptr;
  };
  wc.run = [e, lookup](cluster::run_request req, std::function<void(std::string)> on_event,
                       std::function<void(cluster::run_reply)> done) {
    auto plan = lookup(req, done);
    if (!plan) return std::function<void(std::string)>{};
    return engine_internals::run_for_front(*e, flow(plan), std::move(req), std::move(on_event),
                                           std::move(done));
  };
  wc.run_node = [e, lookup](cluster::node_request req, std::function<void(std::string)> on_event,
                            std::function<void(cluster::run_reply)> done) {
    auto plan = lookup(req.run, done);
    if (!plan) return std::function<void(std::string)>{};
    return engine_internals::run_node_for_front(*e, flow(plan), std::move(req), std::move(on_event),
                                                std::move(done));
  };
  wc.log = [](const std::string& msg) { std::cerr << "weft worker: " << msg << std::endl; };

  auto& sys = engine_internals::system(*eng);
  auto gate = cluster::spawn_gate(sys, wc, counters);
  std::uint16_t port = 0;
  if (!cluster::publish_gate(sys, gate, at, port, why)) {
    std::cerr << "weft: error: " << why
              << " (is another process on that port? pick another with --listen)\n";
    caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
    return exit_usage;
  }
  std::unique_ptr<net::http_server> probe;
  if (!o.probe.empty()) {
    probe = start_worker_probe(sys, probe_at, {wc.name, wc.tags, wc.flows.size(), wc.max_in_flight},
                               counters, why);
    if (!probe) {
      std::cerr << "weft: error: --probe: " << why << '\n';
      cluster::unpublish(sys, gate, port);
      caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
      return exit_usage;
    }
  }
  install_signal_flag();
  std::cout << "weft worker: listening on " << cluster::endpoint{at.host, port}.to_string() << " ("
            << wc.flows.size() << " flow(s)";
  if (!wc.tags.empty()) {
    std::cout << ", tags";
    for (const auto& t : wc.tags) std::cout << ' ' << t;
  }
  if (o.max_inflight > 0) std::cout << ", at most " << o.max_inflight << " runs at once";
  if (tls) std::cout << ", TLS";
  if (probe)
    std::cout << ", probe on http://"
              << cluster::endpoint{probe_at.host, probe->port()}.to_string();
  if (!eng->trace_file().empty()) std::cout << ", traces to " << eng->trace_file();
  std::cout << ")" << std::endl;

  while (!interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(50));

  // Not ready: fronts see it at their next heartbeat and send no more.
  counters->ready = false;
  std::cerr << "weft worker: draining " << counters->in_flight.load() << " run(s) (up to "
            << o.drain_timeout_ms << " ms)" << std::endl;
  const auto until =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(o.drain_timeout_ms);
  while (counters->in_flight.load() > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  // The gate and its sessions go before the engine: its actor system waits
  // for every actor, and they would wait for fronts forever.
  cluster::unpublish(sys, gate, port);
  caf::anon_send_exit(gate, caf::exit_reason::user_shutdown);
  if (probe) probe->drain(std::chrono::milliseconds(500));
  const bool flushed = eng->shutdown(std::chrono::milliseconds(o.drain_timeout_ms));
  std::cerr << "weft worker: stopped after " << counters->runs_done.load() << " run(s)"
            << (flushed ? "" : "; some spans were not flushed (see above)") << std::endl;
  return exit_ok;
}

}  // namespace weft::cli
