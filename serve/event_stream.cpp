#include "serve/event_stream.hpp"

#include "net/json_text.hpp"

namespace weft::serve {

std::string sse_event(std::string_view type, std::string_view data, std::uint64_t id) {
  std::string out;
  out.reserve(type.size() + data.size() + 40);
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += data;
  if (id != 0) {
    out += "\nid: ";
    out += std::to_string(id);
  }
  out += "\n\n";
  return out;
}

heartbeat::heartbeat(std::chrono::milliseconds every)
    : every_(every), thread_([this] { loop(); }) {}

heartbeat::~heartbeat() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void heartbeat::add(net::stream_writer w) {
  std::lock_guard<std::mutex> lk(mu_);
  streams_.push_back(std::move(w));
}

void heartbeat::loop() {
  std::unique_lock<std::mutex> lk(mu_);
  while (!stop_) {
    cv_.wait_for(lk, every_, [this] { return stop_; });
    if (stop_) break;
    // Closed streams leave the list; open ones get a comment line.
    std::vector<net::stream_writer> open;
    open.reserve(streams_.size());
    for (auto& w : streams_)
      if (w.write(": heartbeat\n\n")) open.push_back(std::move(w));
    streams_.swap(open);
  }
}

net::server_response sse_head() {
  net::server_response head;
  head.headers = {{"Content-Type", "text/event-stream"},
                  {"Cache-Control", "no-cache"},
                  {"X-Accel-Buffering", "no"}};  // nginx: do not hold the stream back
  return head;
}

std::function<void(net::stream_end)> cancel_on_close(std::shared_ptr<run_canceller> canceller,
                                                     stream_counters& counters,
                                                     bool continue_on_disconnect) {
  return
      [canceller = std::move(canceller), &counters, continue_on_disconnect](net::stream_end why) {
        if (why == net::stream_end::overflow) {
          counters.overflows++;
          canceller->cancel("client too slow: the event stream overflowed its buffer");
        } else if (!continue_on_disconnect) {
          canceller->cancel("client disconnected");
        }
      };
}

namespace {

// What a run stream shares between the event observer, the close hook and
// the end of the run.
struct run_stream {
  net::stream_writer out;
  std::uint64_t next_id = 1;  // events are numbered per run
  stream_counters* counters = nullptr;
};

std::string text(const flows::value& v) {
  return v.dump(-1, ' ', false, flows::value::error_handler_t::replace);
}

void append_quoted(std::string& out, std::string_view s) {
  out += '"';
  net::append_json_escaped(out, s);
  out += '"';
}

// A chunk event's SSE text, printed field by field: chunks are nearly all
// of a streamed run's events, and building a JSON object per chunk only to
// print it cost about as much as the rest of the serve path
// (weft_stream_bench, bench/RESULTS.md). The same fields, in the same
// order, as run_event::to_json dumps them.
std::string chunk_event(const run_event& e, std::uint64_t id) {
  std::string out;
  out.reserve(96 + 2 * e.node.size() +
              (e.data.is_string() ? e.data.get_ref<const std::string&>().size() : 64));
  out += "event: chunk\ndata: {\"data\":";
  if (e.data.is_string()) append_quoted(out, e.data.get_ref<const std::string&>());
  else out += text(e.data);
  out += ",\"event\":\"chunk\",\"node\":";
  append_quoted(out, e.node);
  out += ",\"path\":[";
  if (e.path.empty()) append_quoted(out, e.node);
  for (std::size_t i = 0; i < e.path.size(); ++i) {
    if (i) out += ',';
    append_quoted(out, e.path[i]);
  }
  out += "]}\nid: ";
  out += std::to_string(id);
  out += "\n\n";
  return out;
}

}  // namespace

std::string run_event_sse(const run_event& e, std::uint64_t id) {
  if (e.type == run_event::kind::chunk) return chunk_event(e, id);
  const auto j = e.to_json();
  return sse_event(j.value("event", ""), text(j), id);
}

void stream_run(engine& eng, std::shared_ptr<const flows::plan> flow, flows::value_map inputs,
                run_options ro, const net::responder& reply, run_stream_options opts,
                stream_counters& counters, heartbeat& beat,
                const std::function<void(const run_result&)>& finished) {
  auto canceller = std::make_shared<run_canceller>();
  auto rs = std::make_shared<run_stream>();
  rs->counters = &counters;
  net::stream_options so;
  so.max_buffered_bytes = opts.max_buffer_bytes;
  so.overflow_tail =
      sse_event("error",
                text({{"event", "error"},
                      {"error", "the client read too slowly: more than " +
                                    std::to_string(opts.max_buffer_bytes) +
                                    " bytes of events waited for it (--max-stream-buffer-bytes); "
                                    "the stream ends here"}}),
                0);
  so.on_close = cancel_on_close(canceller, counters, opts.continue_on_disconnect);
  rs->out = reply.stream(sse_head(), std::move(so));
  counters.active++;
  beat.add(rs->out);
  ro.canceller = canceller;
  // Events arrive one at a time, in order, on the run's thread: the id
  // counter needs no lock. run_finished is sent from the result, which has
  // the ids and timings the event lacks.
  ro.on_event = [rs](const run_event& e) {
    if (e.type == run_event::kind::run_finished) return;
    if (rs->out.write(run_event_sse(e, rs->next_id++))) rs->counters->events++;
  };
  eng.run(std::move(flow), std::move(inputs), std::move(ro), [rs, finished](run_result r) {
    flows::value done = {{"event", "run_finished"},
                         {"status", r.ok ? "ok" : "error"},
                         {"run_id", r.run_id},
                         {"trace_id", r.trace_id},
                         {"duration_ms", r.duration_ms}};
    if (r.ok) {
      done["outputs"] = r.outputs_json();
    } else {
      done["error"] = r.error;
      if (!r.failed_node.empty()) done["node"] = r.failed_node;
      if (r.timed_out) done["timed_out"] = true;
    }
    if (rs->out.write(sse_event("run_finished", text(done), rs->next_id++))) rs->counters->events++;
    rs->out.end();
    rs->counters->active--;
    if (finished) finished(r);
  });
}

}  // namespace weft::serve
