#include "serve/background_runs.hpp"

#include "serve/event_stream.hpp"
#include "serve/json_body.hpp"
#include "tracing/ids.hpp"

namespace weft::serve {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool over(const std::string& status) {
  return status == "succeeded" || status == "failed" || status == "cancelled";
}

}  // namespace

void background_runs::expire(std::int64_t now) {
  const auto ttl_ms = std::chrono::duration_cast<std::chrono::milliseconds>(limits_.ttl).count();
  while (!finished_order_.empty()) {
    auto it = runs_.find(finished_order_.front());
    if (it != runs_.end() && it->second.finished_ms + ttl_ms > now) break;
    if (it != runs_.end()) runs_.erase(it);
    finished_order_.pop_front();
  }
}

std::optional<std::string> background_runs::add(const std::string& flow,
                                                std::shared_ptr<run_canceller> canceller) {
  std::lock_guard<std::mutex> lk(mu_);
  const auto now = now_ms();
  expire(now);
  // Full: the oldest finished runs make room; running ones never do.
  while (runs_.size() >= limits_.history && !finished_order_.empty()) {
    runs_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
  if (runs_.size() >= limits_.history) return std::nullopt;
  auto id = tracing::trace_id::random().to_hex();
  auto& r = runs_[id];
  r.flow = flow;
  r.created_ms = now;
  r.canceller = std::move(canceller);
  return id;
}

void background_runs::started(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = runs_.find(id);
  if (it == runs_.end() || over(it->second.status)) return;
  it->second.status = "running";
  it->second.started_ms = now_ms();
}

std::string background_runs::append(record& r, const std::string& type,
                                    const std::string& data_json) {
  ++r.event_count;
  auto framed = sse_event(type, data_json, r.event_count);
  if (r.events.size() < limits_.max_events) r.events.push_back(framed);
  else r.truncated = true;
  // Followers that are gone leave the list.
  std::vector<net::stream_writer> open;
  for (auto& w : r.followers)
    if (w.write(framed)) open.push_back(std::move(w));
  r.followers.swap(open);
  return framed;
}

void background_runs::event(const std::string& id, const std::string& type,
                            const std::string& data_json) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  append(it->second, type, data_json);
}

void background_runs::finished(const std::string& id, const run_result& res) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = runs_.find(id);
  if (it == runs_.end()) return;
  auto& r = it->second;
  r.status = res.ok ? "succeeded" : r.cancel_asked ? "cancelled" : "failed";
  r.trace_id = res.trace_id;
  r.duration_ms = res.duration_ms;
  r.finished_ms = now_ms();
  if (res.ok) {
    r.outputs = res.outputs_json();
  } else {
    r.error = res.error;
    r.node = res.failed_node;
  }
  flows::value done = {{"event", "run_finished"},
                       {"status", res.ok ? "ok" : "error"},
                       {"run_id", id},
                       {"trace_id", res.trace_id},
                       {"duration_ms", res.duration_ms}};
  if (res.ok) done["outputs"] = r.outputs;
  else done["error"] = r.error;
  append(r, "run_finished", dump(done));
  for (auto& w : r.followers) w.end();
  r.followers.clear();
  r.canceller.reset();
  finished_order_.push_back(id);
}

std::optional<flows::value> background_runs::status(const std::string& id) {
  std::lock_guard<std::mutex> lk(mu_);
  expire(now_ms());
  auto it = runs_.find(id);
  if (it == runs_.end()) return std::nullopt;
  const auto& r = it->second;
  flows::value s = {{"run_id", id},
                    {"flow", r.flow},
                    {"status", r.status},
                    {"created_at", r.created_ms},
                    {"events", r.event_count},
                    {"events_truncated", r.truncated},
                    {"events_url", "/v1/runs/" + id + "/events"}};
  if (r.started_ms) s["started_at"] = r.started_ms;
  if (over(r.status)) {
    s["finished_at"] = r.finished_ms;
    s["duration_ms"] = r.duration_ms;
    s["trace_id"] = r.trace_id;
    if (r.status == "succeeded") s["outputs"] = r.outputs;
    else s["error"] = r.error;
    if (!r.node.empty()) s["node"] = r.node;
  }
  return s;
}

bool background_runs::follow(const std::string& id, std::uint64_t after,
                             const net::responder& reply, std::size_t max_buffer_bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  expire(now_ms());
  auto it = runs_.find(id);
  if (it == runs_.end()) return false;
  auto& r = it->second;
  net::stream_options so;
  so.max_buffered_bytes = max_buffer_bytes;
  so.overflow_tail = sse_event(
      "error", R"({"event":"error","error":"the client read too slowly; the stream ends here"})",
      0);
  auto w = reply.stream(sse_head(), std::move(so));
  std::string replay;
  for (std::size_t i = static_cast<std::size_t>(std::min<std::uint64_t>(after, r.events.size()));
       i < r.events.size(); ++i)
    replay += r.events[i];
  if (r.truncated && after < r.event_count)
    replay += sse_event(
        "truncated",
        dump({{"event", "truncated"}, {"kept", r.events.size()}, {"total", r.event_count}}), 0);
  if (!replay.empty()) w.write(std::move(replay));
  if (over(r.status)) w.end();
  else r.followers.push_back(std::move(w));
  return true;
}

std::optional<std::string> background_runs::cancel(const std::string& id) {
  std::shared_ptr<run_canceller> c;
  std::string status;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = runs_.find(id);
    if (it == runs_.end()) return std::nullopt;
    status = it->second.status;
    if (!over(status)) {
      it->second.cancel_asked = true;
      c = it->second.canceller;
    }
  }
  if (c) c->cancel("cancelled by DELETE /v1/runs/" + id);
  return status;
}

std::map<std::string, std::size_t> background_runs::counts() {
  std::lock_guard<std::mutex> lk(mu_);
  expire(now_ms());
  std::map<std::string, std::size_t> out = {
      {"queued", 0}, {"running", 0}, {"succeeded", 0}, {"failed", 0}, {"cancelled", 0}};
  for (auto& [_, r] : runs_) ++out[r.status];
  return out;
}

std::size_t background_runs::size() {
  std::lock_guard<std::mutex> lk(mu_);
  return runs_.size();
}

}  // namespace weft::serve
