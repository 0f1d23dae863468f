// The front end of a cluster: sends top-level runs to `weft worker` nodes.
//
// One actor holds the connections. For each configured worker it connects
// through CAF's middleman, says hello with the cluster key, and from then on
// asks for the worker's status every `heartbeat` (what it runs, how busy it
// is). A run goes to the least loaded worker that runs its flow with the
// same content hash (a placed node: and every tag the node asks for); when
// every such worker is at its max_in_flight the run waits in line here, at
// the front, not on a worker.
//
// A worker is lost when CAF reports its session down (the process died, the
// connection broke) or when it misses its heartbeat for `heartbeat_timeout`.
// Its runs then end with "worker lost", or go once to another worker with
// retry_lost_runs (at-least-once: a run's side effects may then happen
// twice; the reply's warning then says so). The connection is retried
// every `reconnect`, so a worker that comes back is used again.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>

#include "cluster/wire.hpp"

namespace weft::cluster {

struct dispatcher_config {
  std::vector<endpoint> workers;
  std::string key;             // WEFT_CLUSTER_KEY
  std::string name = "front";  // shown in the workers' logs
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds heartbeat_timeout{3000};
  std::chrono::milliseconds reconnect{1000};
  bool retry_lost_runs = false;
  /// Connections made (problem false), refused and lost (problem true).
  std::function<void(bool problem, const std::string&)> log;
};

/// Why a run did not get a worker's reply.
enum class dispatch_failure {
  none,         // the reply is the worker's
  no_worker,    // no connected worker runs this flow: the caller may run it itself
  mismatch,     // workers run a flow of this name, but another version of it
  worker_lost,  // the worker went away with the run (and no retry, or it failed too)
  stopped,      // the dispatcher stopped first
  cancelled,    // cancel() while it still waited in line
};

class dispatcher {
 public:
  using done_fn = std::function<void(run_reply, dispatch_failure)>;
  using event_fn = std::function<void(std::string)>;

  dispatcher(caf::actor_system& sys, dispatcher_config cfg);
  /// Ends every run still waiting or on a worker with `stopped`.
  ~dispatcher();
  dispatcher(const dispatcher&) = delete;
  dispatcher& operator=(const dispatcher&) = delete;

  /// Sends `req` to a worker and calls `done` once, on a CAF thread, with
  /// its reply, or with a failure and a reply whose `error` says why. With
  /// `on_event` the run is observed: it gets each of the run's events as
  /// JSON (run_event::to_json), in order, on the same thread and all before
  /// `done`. An observed run that has shown events is not retried when its
  /// worker is lost (they cannot be taken back); it fails instead.
  void submit(run_request req, done_fn done, event_fn on_event = {});
  /// The same for one node of a run at this front (its placement): it goes
  /// only to a worker with every one of `req.tags`, or fails with
  /// no_worker and "no worker with tags [gpu] ...". With `on_event`, what
  /// the node emits there and its child runs' events come back, as JSON
  /// objects {"kind": "chunk", "data"} or {"kind": "child", "event"}.
  void submit_node(node_request req, done_fn done, event_fn on_event = {});
  /// Stops what was submitted for `run_id` (and `node`, for a placed node;
  /// empty for a top-level run): a worker cancels it, and its reply then
  /// says `why`; one still in line ends with `cancelled`.
  void cancel(std::string run_id, std::string node, std::string why);
  /// Workers connected now.
  int connected() const { return connected_->load(); }
  /// Waits until `n` workers are connected, or `timeout`.
  bool wait_connected(int n, std::chrono::milliseconds timeout) const;

 private:
  caf::actor_system& sys_;
  caf::actor actor_;
  std::shared_ptr<std::atomic<int>> connected_;
};

}  // namespace weft::cluster
