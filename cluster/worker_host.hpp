// The worker end of a cluster: the actor a `weft worker` publishes (the
// gate), and one session per front that showed the cluster key.
//
// The gate answers only hello. A front with the right key and protocol
// version gets a session actor, the one that takes runs and heartbeats;
// any other gets a hello_reply saying why not, and nothing it could send
// runs to. A session takes top-level runs and placed nodes alike, and stops
// either when its front says so or goes away. Runs themselves are the host's business: the worker host calls
// `run` and sends back what it is given, so this layer knows nothing of
// engines or flows (the weft command wires the engine in).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "cluster/wire.hpp"

namespace weft::cluster {

struct worker_host_config {
  std::string name;  // in every status and reply: the listen address by default
  std::string key;   // WEFT_CLUSTER_KEY; a front must show the same
  std::vector<std::string> tags;
  std::int64_t max_in_flight = 0;            // reported to fronts, which keep under it; 0: none
  std::map<std::string, std::string> flows;  // what this worker runs: name -> content hash
  /// Starts one run and calls `done` once, from any thread, with its end.
  /// For an observed run (run_request::observed) `on_event` is set: call
  /// it with each event's JSON (run_event::to_json), in order, all before
  /// `done`, from the same thread as `done`. Returns a function that
  /// cancels the run (called if its front leaves or says stop).
  std::function<std::function<void(std::string)>(
      run_request, std::function<void(std::string)> on_event, std::function<void(run_reply)>)>
      run;
  /// The same for one placed node of a run at a front (may be empty: the
  /// worker then refuses placed nodes). `on_event` is set when the node's
  /// run is observed (node_request::observed).
  std::function<std::function<void(std::string)>(
      node_request, std::function<void(std::string)> on_event, std::function<void(run_reply)>)>
      run_node;
  /// Refused hellos and lost fronts are told here (may be empty).
  std::function<void(const std::string&)> log;
};

/// Counters a worker shows (the readiness probe, `weft worker`'s summary).
struct worker_counters {
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::uint64_t> runs_done{0};
  std::atomic<std::uint64_t> hellos_refused{0};
  std::atomic<std::uint64_t> fronts{0};  // sessions open now
  std::atomic<bool> ready{true};         // false once the worker drains
};

/// Spawns the gate. Publish it with the middleman (publish_gate).
caf::actor spawn_gate(caf::actor_system& sys, worker_host_config cfg,
                      std::shared_ptr<worker_counters> counters);

/// Publishes `gate` on host:port (port 0: any free one), through TLS when
/// the system has the OpenSSL module (cluster/tls.hpp), and returns the
/// port, or an error that names the address.
bool publish_gate(caf::actor_system& sys, const caf::actor& gate, const endpoint& at,
                  std::uint16_t& bound, std::string& why);

}  // namespace weft::cluster
