// Placement's two ends (actors/placed_node.hpp): the front's stand-in for a
// placed node, and the worker's host for it.
#include "actors/placed_node.hpp"

#include <utility>

#include "actors/engine_cluster.hpp"
#include "actors/node_actor.hpp"
#include "actors/run_secrets.hpp"

namespace weft::actors {
namespace {

// The dispatcher's answer, and an observed node's events, back in the
// stand-in's mailbox.
using placed_done_atom = caf::atom_constant<caf::atom("wPlaced")>;
using placed_event_atom = caf::atom_constant<caf::atom("wPlacedEv")>;

/// Local only: inspect() carries the type name alone.
struct placed_outcome {
  cluster::run_reply reply;
  cluster::dispatch_failure why = cluster::dispatch_failure::none;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, placed_outcome&) {
  return f(caf::meta::type_name("weft.placed_outcome"));
}

std::string tag_list(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (const auto& t : tags) out += (out.size() > 1 ? ", " : "") + t;
  return out + "]";
}

// Values cross as JSON text; a component may have built a string that is
// not UTF-8, which must not throw here.
std::string json_text(const flows::value_map& m) {
  return flows::to_object(m).dump(-1, ' ', false, flows::value::error_handler_t::replace);
}

// --- the front's stand-in ----------------------------------------------------

struct placed_state {
  std::shared_ptr<const run_context> rs;
  int index = -1;
  run_actor run;
  tracing::trace_context ctx;  // the run's: the run span is the parent
  tracing::span_id span;       // the node's, chosen here
  std::uint64_t start_ns = 0;
  std::string cancelled;  // why the run stopped the node, once it has
  static inline const char* name = "weft.placed_node";

  const flows::plan_node& node() const { return rs->plan->nodes[static_cast<std::size_t>(index)]; }
};
using placed_actor = caf::stateful_actor<placed_state>;

cluster::node_request make_request(const placed_state& st, const flows::value_map& inputs,
                                   std::int64_t time_left_ms) {
  const auto& rs = *st.rs;
  cluster::node_request r;
  r.run.run_id = rs.run_id;
  r.run.flow = rs.plan->name();
  r.run.flow_hash = rs.plan->spec.content_hash;
  r.run.inputs_json = json_text(inputs);
  r.run.trace.trace_id = st.ctx.trace.to_hex();
  r.run.trace.parent_span_id = st.ctx.parent.to_hex();
  r.run.trace.sampled = rs.sampled;
  r.run.trace.tracestate = st.ctx.trace_state;
  r.run.trace.session_id = st.ctx.session_id;
  r.run.trace.user_id = st.ctx.user_id;
  r.run.deadline_ms = time_left_ms;
  r.node = st.node().id;
  r.tags = st.node().placement_tags;
  r.span_id = st.span.to_hex();
  r.root_run_id = rs.root_run_id;
  r.depth = rs.depth;
  r.content = rs.content;
  // The worker can only show what it is sent: it needs the secrets only
  // when one of them (or a long enough piece of one) is in the inputs.
  if (rs.secrets && !rs.secrets->empty() &&
      rs.secrets->mask(r.run.inputs_json) != r.run.inputs_json)
    r.secrets = rs.secrets->values();
  return r;
}

// The node's span when the worker never ran it (no worker had the tags,
// the worker went away, it refused): under the run span, with the id the
// request carried, closed with the error.
tracing::span_record span_here(const placed_state& st, const std::string& error,
                               const std::string& worker, bool lost) {
  const auto& node = st.node();
  auto s = st.rs->open_span(st.ctx, node.id);
  s.id = st.span;
  s.start_unix_ns = st.start_ns;
  s.set("weft.node.id", node.id);
  s.set("weft.node.type", node.type);
  s.set("weft.placement.tags", node.placement_tags);
  if (!worker.empty()) s.set("weft.worker", worker);
  if (lost) s.set("weft.worker.lost", true);
  s.set("error.type", lost ? "worker_lost" : "placement");
  s.status = tracing::status_code::error;
  s.status_message = error;
  run_context::close_span(s);
  return s;
}

void finish(placed_actor* self, const cluster::run_reply& r, cluster::dispatch_failure why) {
  auto& st = self->state;
  node_finished msg;
  msg.node = st.index;
  msg.duration_ms = static_cast<double>(tracing::now_unix_ns() - st.start_ns) / 1e6;
  if (st.rs->llm) {
    st.rs->llm->input.fetch_add(r.input_tokens, std::memory_order_relaxed);
    st.rs->llm->output.fetch_add(r.output_tokens, std::memory_order_relaxed);
  }
  bool ok = why == cluster::dispatch_failure::none && r.ok;
  std::string error;
  if (ok) {
    auto v = flows::value::parse(r.outputs_json, nullptr, false);
    if (v.is_object()) {
      for (auto& [k, x] : v.items()) msg.outputs.emplace(k, std::move(x));
    } else {
      ok = false;
      error = "worker " + r.worker + " sent outputs that are not a JSON object";
    }
  } else if (why == cluster::dispatch_failure::cancelled && !st.cancelled.empty()) {
    error = st.cancelled;
  } else {
    error = r.error.empty() ? "the worker gave no reason" : r.error;
    if (why == cluster::dispatch_failure::none && !r.worker.empty())
      error += " (on worker " + r.worker + ")";
  }
  // The worker's node span exists when the worker ran the node (it says so
  // by naming it); otherwise the trace gets one from here.
  const bool ran_there = why == cluster::dispatch_failure::none && !r.root_span_id.empty();
  if (!ok) error = st.rs->mask(std::move(error));
  if (st.rs->sampled && !ran_there) {
    msg.has_span = true;
    msg.span = span_here(st, error, r.worker, why == cluster::dispatch_failure::worker_lost);
  }
  msg.ok = ok;
  msg.error = std::move(error);
  self->send(st.run, std::move(msg));
  self->quit();
}

caf::behavior placed_behavior(placed_actor* self, std::shared_ptr<const run_context> rs, int index,
                              const flows::value_map& inputs, tracing::trace_context ctx,
                              std::int64_t time_left_ms, run_actor run) {
  auto& st = self->state;
  st.rs = std::move(rs);
  st.index = index;
  st.run = std::move(run);
  st.ctx = std::move(ctx);
  st.span = tracing::span_id::random();
  st.start_ns = tracing::now_unix_ns();
  if (st.rs->observed) self->send(st.run, node_started_atom::value, index, st.span.to_hex());
  auto placer = st.rs->placer.lock();
  if (!placer) {
    cluster::run_reply r;
    r.error = "no worker with tags " + tag_list(st.node().placement_tags) +
              ": this engine has no workers (engine_options::workers, or --workers HOST:PORT)";
    finish(self, r, cluster::dispatch_failure::no_worker);
    return {};
  }
  // A strong handle in the callback: once its run lets go of it, nothing
  // else keeps this actor alive until the answer comes, and the dispatcher
  // answers every request exactly once (at worst with `stopped`).
  auto me = caf::actor_cast<caf::actor>(self);
  cluster::dispatcher::event_fn on_event;
  if (st.rs->observed)
    on_event = [me](std::string json) {
      caf::anon_send(me, placed_event_atom::value, std::move(json));
    };
  placer->submit_node(
      make_request(st, inputs, time_left_ms),
      [me](cluster::run_reply r, cluster::dispatch_failure why) {
        caf::anon_send(me, placed_done_atom::value, placed_outcome{std::move(r), why});
      },
      std::move(on_event));
  return {
      [self](placed_done_atom, const placed_outcome& o) { finish(self, o.reply, o.why); },
      // What the node emitted on its worker, or an event of a child run it
      // started there: on to the run, as from a local node.
      [self](placed_event_atom, const std::string& json) {
        auto& st = self->state;
        auto j = flows::value::parse(json, nullptr, false);
        if (!j.is_object()) return;
        const auto kind = j.value("kind", std::string());
        if (kind == "chunk" && j.contains("data")) {
          self->send(st.run, chunk_atom::value, st.index, chunk_data{std::move(j["data"])});
        } else if (kind == "child" && j.contains("event")) {
          event_msg m;
          if (event_from_value(j["event"], m.event))
            self->send(st.run, child_event_atom::value, st.index, std::move(m));
        }
      },
      // The run stops: the worker stops the node (or the dispatcher drops
      // it from its line), and the answer that follows ends this actor, so
      // the run's last span waits for the node's.
      [self](cancel_atom, const std::string& why) {
        auto& st = self->state;
        if (!st.cancelled.empty()) return;
        st.cancelled = why;
        if (auto p = st.rs->placer.lock()) p->cancel(st.rs->run_id, st.node().id, why);
      },
  };
}

// --- the worker's host -------------------------------------------------------

struct host_state {
  std::shared_ptr<const run_context> rs;
  caf::actor node;
  std::string node_id;
  tracing::trace_context ctx;
  tracing::span_id span;
  std::int64_t deadline_ms = 0;
  std::function<void(cluster::run_reply)> done;
  std::function<void(std::string)> on_event;  // set for an observed run
  static inline const char* name = "weft.node_host";
};
using host_actor = run_actor::stateful_pointer<host_state>;

cluster::run_reply reply_of(const host_state& st, node_finished& m) {
  cluster::run_reply r;
  r.ok = m.ok;
  r.run_id = st.rs->run_id;
  r.trace_id = st.ctx.trace.to_hex();
  r.root_span_id = st.span.to_hex();
  r.sampled = st.rs->sampled;
  if (m.ok) r.outputs_json = json_text(m.outputs);
  r.error = std::move(m.error);
  if (!m.ok) r.failed_node = st.node_id;
  r.duration_ms = m.duration_ms;
  if (st.rs->llm) {
    r.input_tokens = st.rs->llm->input.load(std::memory_order_relaxed);
    r.output_tokens = st.rs->llm->output.load(std::memory_order_relaxed);
  }
  return r;
}

run_actor::behavior_type host_behavior(host_actor self, std::shared_ptr<const run_context> rs,
                                       int index, flows::value_map inputs,
                                       const tracing::trace_context& ctx, tracing::span_id span,
                                       std::int64_t deadline_ms,
                                       std::function<void(cluster::run_reply)> done,
                                       std::function<void(std::string)> on_event) {
  auto& st = self->state;
  st.rs = std::move(rs);
  st.node_id = st.rs->plan->nodes[static_cast<std::size_t>(index)].id;
  st.ctx = ctx;
  st.span = span;
  st.deadline_ms = deadline_ms;
  st.done = std::move(done);
  st.on_event = std::move(on_event);
  st.node = spawn_node(self, st.rs, index, std::move(inputs), ctx, span);
  if (deadline_ms > 0)
    self->delayed_send(caf::actor_cast<run_actor>(self), std::chrono::milliseconds(deadline_ms),
                       timeout_atom::value);
  auto stop = [self](const std::string& why) {
    if (auto& n = self->state.node) caf::anon_send(n, cancel_atom::value, why);
  };
  return {
      [](start_atom) {},
      // Sent only when the front's run is observed. The front reported the
      // node's start itself (with the span id it chose); what the node
      // emits and its child runs' events go back to it.
      [](node_started_atom, int, const std::string&) {},
      [self](chunk_atom, int, chunk_data& c) {
        if (auto& fn = self->state.on_event)
          fn(flows::value{{"kind", "chunk"}, {"data", std::move(c.data)}}.dump(
              -1, ' ', false, flows::value::error_handler_t::replace));
      },
      [self](child_event_atom, int, event_msg& m) {
        if (auto& fn = self->state.on_event)
          fn(flows::value{{"kind", "child"}, {"event", m.event.to_json()}}.dump(
              -1, ' ', false, flows::value::error_handler_t::replace));
      },
      [self](node_finished& m) {
        auto& st = self->state;
        // Spans first, as a run does: whoever sees the reply and flushes
        // this worker's exporter finds them.
        if (m.has_span && st.rs->exporter) {
          std::vector<tracing::span_record> spans;
          spans.reserve(1 + m.children.size());
          spans.push_back(std::move(m.span));
          for (auto& c : m.children) spans.push_back(std::move(c));
          self->send(st.rs->exporter, std::move(spans));
        }
        st.node = nullptr;
        if (auto fn = std::move(st.done)) fn(reply_of(st, m));
        self->quit();
      },
      [self, stop](timeout_atom) {
        stop("timeout: the run's time ran out on this worker (" +
             std::to_string(self->state.deadline_ms) + " ms were left when the front sent it)");
      },
      [stop](cancel_atom, const std::string& why) { stop(why); },
  };
}

}  // namespace

caf::actor spawn_placed_node(caf::local_actor* run, std::shared_ptr<const run_context> rs,
                             int index, flows::value_map inputs, tracing::trace_context ctx,
                             std::int64_t time_left_ms) {
  return run->spawn(placed_behavior, std::move(rs), index, std::move(inputs), std::move(ctx),
                    time_left_ms, caf::actor_cast<run_actor>(run));
}

run_actor host_placed_node(caf::actor_system& sys, node_host_job job) {
  auto& req = job.req;
  auto refuse = [&](const std::string& why) {
    cluster::run_reply r;
    r.run_id = req.run.run_id;
    r.trace_id = req.run.trace.trace_id;
    r.error = why;
    if (job.done) job.done(std::move(r));
    return run_actor{};
  };
  if (!job.plan) return refuse("no flow given");
  const auto& nodes = job.plan->nodes;
  int index = -1;
  for (std::size_t i = 0; i < nodes.size(); ++i)
    if (nodes[i].id == req.node) index = static_cast<int>(i);
  if (index < 0)
    return refuse("flow '" + job.plan->name() + "' has no node '" + req.node + "' on this worker");
  auto trace = tracing::trace_id::from_hex(req.run.trace.trace_id);
  auto parent = tracing::span_id::from_hex(req.run.trace.parent_span_id);
  auto span = tracing::span_id::from_hex(req.span_id);
  if (!trace || !parent || !span)
    return refuse("the front sent a bad trace context for node '" + req.node + "'");
  auto in = flows::value::parse(req.run.inputs_json, nullptr, false);
  if (!in.is_object())
    return refuse("the front sent inputs for node '" + req.node + "' that are not a JSON object");
  flows::value_map inputs;
  for (auto& [k, v] : in.items()) inputs.emplace(k, std::move(v));

  auto rs = std::make_shared<run_context>();
  rs->plan = job.plan;
  rs->run_id = req.run.run_id;
  rs->root_run_id = req.root_run_id.empty() ? req.run.run_id : req.root_run_id;
  rs->depth = req.depth;
  rs->content = req.content;
  rs->sampled = job.tracing && req.run.trace.sampled;
  rs->max_value_depth = job.max_value_depth;
  rs->exporter = job.exporter;
  rs->http = job.http;
  rs->llm = job.llm ? job.llm : std::make_shared<llm_tally>();
  rs->session_id = req.run.trace.session_id;
  rs->user_id = req.run.trace.user_id;
  rs->observed = static_cast<bool>(job.on_event);
  std::shared_ptr<tracing::secret_set> sent;
  if (!req.secrets.empty()) {
    sent = std::make_shared<tracing::secret_set>();
    for (const auto& v : req.secrets) sent->add(v);
  }
  rs->secrets = child_secrets(job.plan->env_secrets, sent);

  tracing::trace_context ctx;
  ctx.trace = *trace;
  ctx.parent = *parent;
  ctx.sampled = rs->sampled;
  ctx.trace_state = req.run.trace.tracestate;
  ctx.session_id = rs->session_id;
  ctx.user_id = rs->user_id;
  return sys.spawn<caf::lazy_init>(host_behavior, std::move(rs), index, std::move(inputs), ctx,
                                   *span, req.run.deadline_ms, std::move(job.done),
                                   std::move(job.on_event));
}

}  // namespace weft::actors
