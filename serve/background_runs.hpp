// Background runs: started by one request, followed by others.
//
//   POST   /v1/flows/{flow}/runs  {"background": true, ...}  -> 202 {"run_id", "status_url"}
//   GET    /v1/runs/{id}          -> {"run_id", "flow", "status", "trace_id", "created_at",
//                                     "started_at", "finished_at", "duration_ms",
//                                     "outputs" | "error", "node", "events", "events_truncated"}
//   GET    /v1/runs/{id}/events   -> text/event-stream: every event so far, then live;
//                                     Last-Event-ID resumes after that id
//   DELETE /v1/runs/{id}          -> 202 {"run_id", "status"}: the run is cancelled
//
// Status: queued (accepted, not started), running, succeeded, failed,
// cancelled. The id is the background run's own (the engine's run id is the
// trace's business); it is unguessable enough to be a capability.
//
// Retention is bounded: at most `history` runs are kept (the oldest
// finished ones go first; running ones are never dropped, and a start that
// finds only running runs is refused with 503), a finished run is kept for
// `ttl` at most, and each run keeps at most `max_events` events (then
// `events_truncated` is true and later events are only counted). So memory
// stays flat under any steady stream of background runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine_internals.hpp"
#include "net/http_server.hpp"

namespace weft::serve {

struct background_limits {
  std::size_t history = 10000;
  std::chrono::seconds ttl{3600};
  std::size_t max_events = 10000;
};

class background_runs {
 public:
  explicit background_runs(background_limits limits) : limits_(limits) {}

  /// Registers a run of `flow` and returns its id, or nullopt when the
  /// history is full of runs still going. `canceller` is the run's.
  std::optional<std::string> add(const std::string& flow, std::shared_ptr<run_canceller> canceller);
  /// The run has started (its engine run exists).
  void started(const std::string& id);
  /// One more event of the run (already SSE-framed but for the id, which
  /// this assigns), for the record and every follower.
  void event(const std::string& id, const std::string& type, const std::string& data_json);
  /// The run ended: its result, and the final event.
  void finished(const std::string& id, const run_result& r);

  /// GET /v1/runs/{id}: the status document, or nullopt for an unknown id.
  std::optional<flows::value> status(const std::string& id);
  /// GET /v1/runs/{id}/events: replays the events after `after`, then
  /// follows live on `reply` (or ends at once when the run is over). False
  /// for an unknown id.
  bool follow(const std::string& id, std::uint64_t after, const net::responder& reply,
              std::size_t max_buffer_bytes);
  /// DELETE: cancels the run; its status now, or nullopt for an unknown id.
  std::optional<std::string> cancel(const std::string& id);

  /// Runs kept now, by status (for /metrics: weft_background_runs{status}).
  std::map<std::string, std::size_t> counts();
  std::size_t size();

 private:
  struct record {
    std::string flow;
    std::string status = "queued";
    std::string trace_id, error, node;
    flows::value outputs;
    double duration_ms = 0;
    std::int64_t created_ms = 0, started_ms = 0, finished_ms = 0;
    std::vector<std::string> events;  // framed, with ids 1..n
    std::uint64_t event_count = 0;    // all events, kept or not
    bool truncated = false;
    bool cancel_asked = false;
    std::shared_ptr<run_canceller> canceller;
    std::vector<net::stream_writer> followers;
  };
  void expire(std::int64_t now_ms);  // under mu_
  std::string append(record& r, const std::string& type,
                     const std::string& data_json);  // under mu_

  background_limits limits_;
  std::mutex mu_;
  std::map<std::string, record> runs_;
  std::deque<std::string> finished_order_;  // ids in the order they finished
};

}  // namespace weft::serve
