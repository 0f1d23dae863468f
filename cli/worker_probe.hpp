// `weft worker --probe HOST:PORT`: the worker's readiness and load over
// plain HTTP, for what cannot speak CAF (Kubernetes probes, a load
// balancer's health check, an operator's curl).
//
//   GET /healthz  200 {"status":"ok"} while the process serves
//   GET /readyz   200 while the worker takes runs, 503 once it drains;
//                 both with its load: {"ready", "name", "tags", "flows",
//                 "in_flight", "max_in_flight", "runs_done", "fronts",
//                 "hellos_refused"}
//
// Fronts do not use it: they learn the same over the cluster connection,
// every heartbeat (cluster/wire.hpp, worker_status).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>

#include "cluster/wire.hpp"
#include "cluster/worker_host.hpp"
#include "net/http_server.hpp"

namespace weft::cli {

struct probe_facts {
  std::string name;
  std::vector<std::string> tags;
  std::size_t flows = 0;
  std::int64_t max_in_flight = 0;
};

/// Serves the probe on `at` (port 0: any free one); null with `why` when
/// the address cannot be bound.
std::unique_ptr<net::http_server> start_worker_probe(
    caf::actor_system& sys, const cluster::endpoint& at, probe_facts facts,
    const std::shared_ptr<cluster::worker_counters>& counters, std::string& why);

}  // namespace weft::cli
