#include "actors/engine_cluster.hpp"

#include <unistd.h>

#include "flows/value.hpp"

namespace weft::actors {

cluster::run_request make_run_request(const run_job& job) {
  cluster::run_request r;
  r.run_id = job.run_id;
  r.flow = job.plan->name();
  r.flow_hash = job.plan->spec.content_hash;
  r.inputs_json = flows::to_object(job.inputs).dump();
  r.trace.trace_id = job.ctx.trace.to_hex();
  if (job.ctx.parent.valid()) r.trace.parent_span_id = job.ctx.parent.to_hex();
  r.trace.sampled = job.ctx.sampled;
  r.trace.tracestate = job.ctx.trace_state;
  r.trace.session_id = job.ctx.session_id;
  r.trace.user_id = job.ctx.user_id;
  r.deadline_ms = job.timeout_ms;
  return r;
}

run_result result_from_reply(cluster::run_reply r, cluster::dispatch_failure why) {
  run_result out;
  out.ok = r.ok && why == cluster::dispatch_failure::none;
  out.run_id = std::move(r.run_id);
  out.trace_id = std::move(r.trace_id);
  out.root_span_id = std::move(r.root_span_id);
  out.sampled = r.sampled;
  if (!r.outputs_json.empty()) {
    auto v = flows::value::parse(r.outputs_json, nullptr, false);
    if (v.is_object())
      for (auto& [k, x] : v.items()) out.outputs.emplace(k, x);
    else if (out.ok) {
      out.ok = false;
      out.error = "the worker's outputs are not a JSON object";
    }
  }
  if (out.error.empty()) out.error = std::move(r.error);
  out.failed_node = std::move(r.failed_node);
  out.timed_out = r.timed_out;
  out.warning = std::move(r.warning);
  out.duration_ms = r.duration_ms;
  out.input_tokens = r.input_tokens;
  out.output_tokens = r.output_tokens;
  out.worker = std::move(r.worker);
  out.worker_lost = why == cluster::dispatch_failure::worker_lost;
  out.no_worker =
      why == cluster::dispatch_failure::no_worker || why == cluster::dispatch_failure::mismatch;
  return out;
}

cluster::run_reply reply_from_result(const run_result& r) {
  cluster::run_reply out;
  out.ok = r.ok;
  out.run_id = r.run_id;
  out.trace_id = r.trace_id;
  out.root_span_id = r.root_span_id;
  out.sampled = r.sampled;
  out.outputs_json = r.outputs_json().dump();
  out.error = r.error;
  out.failed_node = r.failed_node;
  out.timed_out = r.timed_out;
  out.warning = r.warning;
  out.duration_ms = r.duration_ms;
  out.input_tokens = r.input_tokens;
  out.output_tokens = r.output_tokens;
  return out;
}

tracing::span_record open_dispatch_span(const run_job& job) {
  tracing::span_record s;
  s.trace = job.ctx.trace;
  s.id = tracing::span_id::random();
  s.trace_state = job.ctx.trace_state;
  s.parent = job.ctx.parent;
  // Low cardinality, and not the flow's bare name: the worker's run span
  // below it carries that, and two nested spans of one name read as one.
  s.name = "dispatch " + job.plan->name();
  s.kind = tracing::span_kind::client;
  s.start_unix_ns = tracing::now_unix_ns();
  s.set("weft.run.id", job.run_id);
  s.set("weft.flow.name", job.plan->name());
  s.set("weft.flow.hash", job.plan->spec.content_hash);
  if (!job.ctx.session_id.empty()) s.set("session.id", job.ctx.session_id);
  if (!job.ctx.user_id.empty()) s.set("user.id", job.ctx.user_id);
  return s;
}

void close_dispatch_span(tracing::span_record& s, const run_result& r) {
  s.end_unix_ns = tracing::now_unix_ns();
  if (!r.worker.empty()) s.set("weft.worker", r.worker);
  if (r.worker_lost) s.set("weft.worker.lost", true);
  if (!r.warning.empty()) s.set("weft.warning", r.warning);
  if (r.ok) {
    s.status = tracing::status_code::ok;
  } else {
    s.status = tracing::status_code::error;
    s.status_message = r.error;
  }
}

bool event_from_json(const std::string& json, run_event& out) {
  return event_from_value(flows::value::parse(json, nullptr, false), out);
}

bool event_from_value(const flows::value& j, run_event& out) {
  if (!j.is_object() || !j.contains("event") || !j["event"].is_string()) return false;
  auto text = [&](const char* key) {
    auto i = j.find(key);
    return i != j.end() && i->is_string() ? i->get<std::string>() : std::string();
  };
  const auto kind = j["event"].get<std::string>();
  if (kind == "node_started") out.type = run_event::kind::node_started;
  else if (kind == "chunk") out.type = run_event::kind::chunk;
  else if (kind == "node_finished") out.type = run_event::kind::node_finished;
  else if (kind == "run_finished") out.type = run_event::kind::run_finished;
  else return false;
  out.node = text("node");
  if (auto p = j.find("path"); p != j.end() && p->is_array())
    for (const auto& e : *p)
      if (e.is_string()) out.path.push_back(e.get<std::string>());
  out.span_id = text("span_id");
  out.status = text("status");
  out.error = text("error");
  if (auto d = j.find("duration_ms"); d != j.end() && d->is_number())
    out.duration_ms = d->get<double>();
  if (auto d = j.find("data"); d != j.end()) out.data = *d;
  if (auto o = j.find("outputs"); o != j.end() && o->is_object())
    for (auto& [k, v] : o->items()) out.outputs.emplace(k, v);
  return true;
}

std::string front_name() {
  char host[256] = {0};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "front") + ":" + std::to_string(::getpid());
}

}  // namespace weft::actors
