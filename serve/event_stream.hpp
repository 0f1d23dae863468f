// Runs streamed to their client as Server-Sent Events.
//
//   POST /v1/flows/{flow}/runs   with "Accept: text/event-stream" or {"stream": true}
//   -> 200 text/event-stream, chunked, sent at once; then, as the run goes:
//
//   event: node_started
//   data: {"event":"node_started","node":"ask","path":["ask"],"span_id":"..."}
//   id: 1
//
//   event: chunk
//   data: {"event":"chunk","node":"ask","path":["ask"],"data":"Hel"}
//   id: 2
//   ...
//   event: run_finished
//   data: {"event":"run_finished","status":"ok","run_id":"...","trace_id":"...","outputs":{...}}
//   id: 9
//
// Every event of the run, child runs' included (with their path), in the
// order the run produced them; ids count from 1 per run. A comment line
// (": heartbeat") goes out every heartbeat interval (15 s) so proxies keep
// the connection. After run_finished the body ends and the connection stays
// open for the next request.
//
// When the client goes away, the run is cancelled ("client disconnected":
// its spans end with status error) unless the request said
// "on_disconnect": "continue". A client that reads slower than the run
// writes cannot grow the server's memory: past max_stream_buffer_bytes the
// stream ends with an `error` event, the run is cancelled, and the overflow
// is counted.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "actors/engine_internals.hpp"
#include "net/http_server.hpp"

namespace weft::serve {

/// One event in SSE framing: "event: <type>\ndata: <data>\nid: <id>\n\n"
/// (no id line for id 0). `data` must be one line (JSON text is).
std::string sse_event(std::string_view type, std::string_view data, std::uint64_t id);

/// A run event as one SSE event: sse_event(type, to_json() as text, id),
/// with chunk events printed field by field rather than through a JSON
/// object, since they are nearly all of a streamed run's events.
std::string run_event_sse(const run_event& e, std::uint64_t id);

/// The head of every event stream weft serve sends: 200, text/event-stream,
/// no caching, and no buffering by a proxy in front (nginx's header).
net::server_response sse_head();

/// What /metrics shows of event streams.
struct stream_counters {
  std::atomic<std::int64_t> active{0};      // weft_sse_streams_active
  std::atomic<std::uint64_t> overflows{0};  // weft_sse_overflows_total
  std::atomic<std::uint64_t> events{0};     // weft_run_events_total (sent on streams)
};

/// What to do when a run's event stream ends before the run: cancel the
/// run (a client too slow to read is counted in `counters.overflows`),
/// unless the client went away and asked for the run to go on.
std::function<void(net::stream_end)> cancel_on_close(std::shared_ptr<run_canceller> canceller,
                                                     stream_counters& counters,
                                                     bool continue_on_disconnect);

/// Sends a comment line on every open stream at a fixed interval, from one
/// thread of its own, so that idle streams (a model thinking for a minute)
/// are not closed by proxies along the way.
class heartbeat {
 public:
  explicit heartbeat(std::chrono::milliseconds every);
  ~heartbeat();
  heartbeat(const heartbeat&) = delete;
  heartbeat& operator=(const heartbeat&) = delete;
  void add(net::stream_writer w);

 private:
  void loop();
  std::chrono::milliseconds every_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<net::stream_writer> streams_;
  std::thread thread_;
};

struct run_stream_options {
  std::size_t max_buffer_bytes = 1 << 20;
  bool continue_on_disconnect = false;
};

/// Starts `flow` and streams its events to `reply`. `finished` runs once
/// with the run's result (on an engine thread), after the last event is
/// handed to the connection.
void stream_run(engine& eng, std::shared_ptr<const flows::plan> flow, flows::value_map inputs,
                run_options ro, const net::responder& reply, run_stream_options opts,
                stream_counters& counters, heartbeat& beat,
                const std::function<void(const run_result&)>& finished);

}  // namespace weft::serve
