#include "actors/run_actor.hpp"

#include <algorithm>
#include <optional>

#include "actors/messages.hpp"
#include "actors/node_actor.hpp"
#include "actors/placed_node.hpp"
#include "actors/run_context.hpp"
#include "actors/run_secrets.hpp"

namespace weft::actors {
namespace {

// Where each node of the run is. A node is pending until its upstream
// nodes are all done or skipped; then it runs, or is skipped without an
// actor when a required input has nothing to carry (an untaken route).
enum class exec : std::uint8_t { pending, running, done, failed, skipped };

struct run_state {
  std::shared_ptr<run_job> job;
  std::shared_ptr<const run_context> rs;
  tracing::span_record span;
  tracing::trace_context child_ctx;  // the run's context, with the run span as parent
  std::vector<int> waiting;          // per node: upstream nodes not yet finished
  std::vector<std::optional<flows::value_map>> results;
  std::vector<exec> execs;       // per node
  std::vector<int> skipped;      // nodes skipped, in the order they were
  std::vector<caf::actor> live;  // per node: its actor while it runs
  std::size_t unfinished = 0;
  std::size_t awaiting_acks = 0;            // cancelled nodes yet to report back
  std::vector<tracing::span_record> spans;  // finished, not yet shipped
  std::uint64_t start_ns = 0;
  bool done = false;
  static inline const char* name = "weft.run";
};
using run_self = run_actor::stateful_pointer<run_state>;

// What a plan source holds when its consumer is ready: a value, nothing
// because its producer was skipped or left the socket untaken (a router),
// or nothing by mistake (a component that did not produce a socket it
// declares), which fails the run.
struct source_value {
  enum { value, skipped, missing } state;
  const flows::value* v = nullptr;
};

source_value lookup(const run_state& st, const flows::plan_source& s) {
  if (s.node < 0) {
    auto i = st.job->inputs.find(s.socket);
    if (i == st.job->inputs.end()) return {source_value::missing};
    return {source_value::value, &i->second};
  }
  const auto n = static_cast<std::size_t>(s.node);
  if (st.execs[n] == exec::skipped) return {source_value::skipped};
  auto& r = st.results[n];
  if (r)
    if (auto i = r->find(s.socket); i != r->end()) return {source_value::value, &i->second};
  return {st.job->plan->nodes[n].conditional_outputs ? source_value::skipped
                                                     : source_value::missing};
}

void complete(run_self self, bool ok, std::string error, std::string failed_node, bool timed_out);
void notify(run_self self, const run_event& e);

// What is left of the run's budget now, in ms (0: no limit), for a node
// that leaves this process; at least 1, since 0 would mean none.
std::int64_t time_left_ms(const run_state& st) {
  if (st.job->timeout_ms <= 0) return 0;
  const auto spent = static_cast<std::int64_t>((tracing::now_unix_ns() - st.start_ns) / 1000000);
  return std::max<std::int64_t>(1, st.job->timeout_ms - spent);
}

// Gathers the inputs of node `n`. Returns false when the node is to be
// skipped (a required input whose sources were all skipped); a source that
// is missing by mistake fails the run (st.done is then set).
bool gather(run_self self, int n, flows::value_map& in) {
  auto& st = self->state;
  const auto& node = st.job->plan->nodes[static_cast<std::size_t>(n)];
  for (const auto& pi : node.inputs) {
    flows::value v = pi.list ? flows::value::array() : flows::value();
    bool produced = false;
    for (const auto& src : pi.sources) {
      auto x = lookup(st, src);
      if (x.state == source_value::missing) {
        auto from = src.node < 0 ? "$inputs." + src.socket
                                 : st.job->plan->nodes[static_cast<std::size_t>(src.node)].id +
                                       "." + src.socket;
        complete(self, false,
                 "node '" + node.id + "': input '" + pi.socket + "' has no value: " + from +
                     " was not produced",
                 node.id, false);
        return false;
      }
      if (x.state == source_value::skipped) continue;
      produced = true;
      if (pi.list) v.push_back(*x.v);
      else v = *x.v;
    }
    if (!produced) {
      if (pi.required) return false;
      continue;  // an optional input from skipped sources is absent
    }
    in.emplace(pi.socket, std::move(v));
  }
  return true;
}

// Node `n` has every upstream node settled: spawn it, or skip it, and
// cascade skips downstream. A worklist, not recursion: a long chain behind
// an untaken route skips in one loop.
void ready(run_self self, int first) {
  auto& st = self->state;
  std::vector<int> todo;  // filled only by skips: no allocation otherwise
  for (int n = first; !st.done; n = todo.back(), todo.pop_back()) {
    const auto i = static_cast<std::size_t>(n);
    const auto& node = st.job->plan->nodes[i];
    flows::value_map in;
    if (gather(self, n, in)) {
      st.execs[i] = exec::running;
      st.live[i] =
          node.placement_tags.empty()
              ? spawn_node(self, st.rs, n, std::move(in), st.child_ctx)
              : spawn_placed_node(self, st.rs, n, std::move(in), st.child_ctx, time_left_ms(st));
      if (todo.empty()) break;
      continue;
    }
    if (st.done) return;  // gather failed the run
    st.execs[i] = exec::skipped;
    st.skipped.push_back(n);
    --st.unfinished;
    if (st.job->on_event) {
      run_event e;
      e.type = run_event::kind::node_finished;
      e.node = node.id;
      e.path = {node.id};
      e.status = "skipped";
      notify(self, e);
    }
    for (int d : node.downstream)
      if (--st.waiting[static_cast<std::size_t>(d)] == 0) todo.push_back(d);
    if (todo.empty()) break;
  }
  if (!st.done && st.unfinished == 0) complete(self, true, {}, {}, false);
}

void cancel_live(run_self self, const std::string& why) {
  for (auto& a : self->state.live)
    if (a) {
      caf::anon_send(a, cancel_atom::value, why);
      a = nullptr;
      ++self->state.awaiting_acks;
    }
}

// Sends the run's finished spans to the exporter in one message. Runs ship
// as they end, and long runs also every `ship_every` spans, so a run that
// lasts minutes does not hold its spans back.
constexpr std::size_t ship_every = 64;

void ship_spans(run_self self) {
  auto& st = self->state;
  if (st.spans.empty()) return;
  if (st.rs->exporter) self->send(st.rs->exporter, std::move(st.spans));
  st.spans = {};
}

void keep_span(run_self self, node_finished& m) {
  if (!m.has_span) return;
  auto& spans = self->state.spans;
  spans.push_back(std::move(m.span));
  for (auto& c : m.children) spans.push_back(std::move(c));
  if (spans.size() >= ship_every) ship_spans(self);
}

// Hands one event to the run's observer. Events stop with run_finished; an
// observer that throws is the embedder's bug and must not end the run.
void notify(run_self self, const run_event& e) {
  auto& st = self->state;
  if (!st.job->on_event || st.done) return;
  try {
    st.job->on_event(e);
  } catch (...) {
  }
}

const std::string& node_name(run_self self, int index) {
  return self->state.job->plan->nodes[static_cast<std::size_t>(index)].id;
}

void release(run_self self) {
  ship_spans(self);
  if (auto& f = self->state.job->released) f();
  self->quit();
}

void complete(run_self self, bool ok, std::string error, std::string failed_node, bool timed_out) {
  auto& st = self->state;
  if (st.done) return;
  st.done = true;
  cancel_live(self, timed_out ? "cancelled: run timeout" : "cancelled: run failed");
  // The error goes to the span, to the caller and from there to stderr or
  // an HTTP body: masked here, once, it is clean everywhere. (Node errors
  // come masked already; a cancel reason from outside may not.)
  error = st.rs->mask(std::move(error));
  run_result r;
  r.ok = ok;
  r.run_id = st.job->run_id;
  r.trace_id = st.job->ctx.trace.to_hex();
  r.root_span_id = st.span.id.to_hex();  // before the span moves out below
  r.sampled = st.rs->sampled;
  r.warning = std::move(st.job->warning);
  if (st.rs->llm) {
    r.input_tokens = st.rs->llm->input.load(std::memory_order_relaxed);
    r.output_tokens = st.rs->llm->output.load(std::memory_order_relaxed);
  }
  if (ok) {
    // An output whose source was skipped is null.
    for (const auto& o : st.job->plan->outputs) {
      auto x = lookup(st, o.source);
      r.outputs.emplace(o.name, x.v ? *x.v : flows::value());
    }
  }
  if (st.rs->sampled) {
    if (!st.skipped.empty()) {
      // In file order, whatever order the branches settled in.
      std::sort(st.skipped.begin(), st.skipped.end());
      std::vector<std::string> ids;
      ids.reserve(st.skipped.size());
      for (int i : st.skipped) ids.push_back(node_name(self, i));
      st.span.set("weft.run.skipped", std::move(ids));
    }
    if (ok) {
      st.span.status = tracing::status_code::ok;
      if (st.rs->content) st.span.set("weft.outputs", st.rs->content_attribute(r.outputs));
    } else {
      st.span.status = tracing::status_code::error;
      st.span.status_message = error;
      if (!failed_node.empty()) st.span.set("weft.failed_node", failed_node);
    }
    run_context::close_span(st.span);
    st.spans.push_back(std::move(st.span));
  }
  r.error = std::move(error);
  r.failed_node = std::move(failed_node);
  r.timed_out = timed_out;
  r.duration_ms = static_cast<double>(tracing::now_unix_ns() - st.start_ns) / 1e6;
  if (st.job->on_event) {
    run_event e;
    e.type = run_event::kind::run_finished;
    e.status = ok ? "ok" : "error";
    e.duration_ms = r.duration_ms;
    e.error = r.error;
    if (ok) e.outputs = r.outputs;
    try {
      st.job->on_event(e);
    } catch (...) {
    }
  }
  // Spans leave before the result does, so whoever sees the result and then
  // flushes the exporter finds them there.
  if (st.awaiting_acks == 0) ship_spans(self);
  if (st.job->done) {
    try {
      st.job->done(std::move(r));
    } catch (...) {
      // A throwing callback is the embedder's bug; it must not kill the run's
      // actor before its spans are out, so it is swallowed here.
    }
  }
  if (st.awaiting_acks == 0) release(self);
}

run_actor::behavior_type run_behavior(run_self self, std::shared_ptr<run_job> job) {
  auto& st = self->state;
  st.job = std::move(job);
  st.start_ns = tracing::now_unix_ns();
  const auto& plan = *st.job->plan;
  auto rs = std::make_shared<run_context>();
  rs->plan = st.job->plan;
  rs->run_id = st.job->run_id;
  rs->root_run_id = st.job->root_run_id.empty() ? st.job->run_id : st.job->root_run_id;
  rs->depth = st.job->depth;
  rs->content = st.job->content;
  rs->max_value_depth = st.job->max_value_depth;
  rs->sampled = st.job->ctx.sampled;
  rs->exporter = st.job->exporter;
  rs->http = st.job->http;
  rs->llm = st.job->llm ? st.job->llm : std::make_shared<llm_tally>();
  rs->session_id = st.job->ctx.session_id;
  rs->user_id = st.job->ctx.user_id;
  rs->secrets = child_secrets(st.job->parent_secrets, run_secrets(plan, st.job->inputs));
  rs->observed = static_cast<bool>(st.job->on_event);
  rs->placer = st.job->placer;
  st.rs = std::move(rs);

  // The run span is the root (or the child of the remote caller's span); the
  // context handed to nodes has it as their parent.
  st.span = st.rs->open_span(st.job->ctx, plan.name());
  if (!st.job->parent_run_id.empty()) st.span.set("weft.parent_run.id", st.job->parent_run_id);
  for (auto& [k, v] : st.job->span_attributes) st.span.set(k, std::move(v));
  if (st.rs->content && st.rs->sampled)
    st.span.set("weft.inputs", st.rs->content_attribute(st.job->inputs));
  st.child_ctx = st.job->ctx.child_of(st.span.id);
  if (st.rs->sampled) st.spans.reserve(std::min<std::size_t>(plan.nodes.size() + 1, ship_every));

  const auto n = plan.nodes.size();
  st.waiting.resize(n);
  st.results.resize(n);
  st.live.resize(n);
  st.execs.assign(n, exec::pending);
  st.unfinished = n;
  for (std::size_t i = 0; i < n; ++i) st.waiting[i] = plan.nodes[i].upstream_count;
  if (st.job->timeout_ms > 0)
    self->delayed_send(caf::actor_cast<run_actor>(self),
                       std::chrono::milliseconds(st.job->timeout_ms), timeout_atom::value);
  if (n == 0) complete(self, true, {}, {}, false);
  for (int e : plan.entry_nodes) {
    if (st.done) break;
    ready(self, e);
  }

  return {
      [=](start_atom) {
        // Nothing to do: with lazy_init the start message is what ran the
        // initialisation above.
      },
      [=](node_started_atom, int index, const std::string& span_id) {
        run_event e;
        e.type = run_event::kind::node_started;
        e.node = node_name(self, index);
        e.path = {e.node};
        e.span_id = span_id;
        notify(self, e);
      },
      [=](chunk_atom, int index, chunk_data& c) {
        run_event e;
        e.type = run_event::kind::chunk;
        e.node = node_name(self, index);
        e.path = {e.node};
        e.data = std::move(c.data);
        notify(self, e);
      },
      // An event of a child run of node `index`, its path relative to it.
      [=](child_event_atom, int index, event_msg& m) {
        m.event.path.insert(m.event.path.begin(), node_name(self, index));
        notify(self, m.event);
      },
      [=](node_finished& m) {
        auto& st = self->state;
        keep_span(self, m);
        if (st.done) {
          if (--st.awaiting_acks == 0) release(self);
          return;
        }
        if (st.job->on_event) {
          run_event e;
          e.type = run_event::kind::node_finished;
          e.node = node_name(self, m.node);
          e.path = {e.node};
          e.status = m.ok ? "ok" : "error";
          e.duration_ms = m.duration_ms;
          e.error = m.error;
          notify(self, e);
        }
        auto i = static_cast<std::size_t>(m.node);
        st.live[i] = nullptr;
        const auto& node = st.job->plan->nodes[i];
        if (!m.ok) {
          st.execs[i] = exec::failed;
          complete(self, false, "node '" + node.id + "' failed: " + m.error, node.id, false);
          return;
        }
        st.execs[i] = exec::done;
        st.results[i] = std::move(m.outputs);
        --st.unfinished;
        for (int d : node.downstream)
          if (--st.waiting[static_cast<std::size_t>(d)] == 0 && !st.done) ready(self, d);
        if (!st.done && st.unfinished == 0) complete(self, true, {}, {}, false);
      },
      [=](timeout_atom) {
        complete(self, false,
                 "timeout: the run exceeded " + std::to_string(self->state.job->timeout_ms) + " ms",
                 {}, true);
      },
      [=](cancel_atom, const std::string& why) { complete(self, false, why, {}, false); },
  };
}

}  // namespace

run_actor spawn_run(caf::actor_system& sys, std::shared_ptr<run_job> job) {
  return sys.spawn<caf::lazy_init>(run_behavior, std::move(job));
}

}  // namespace weft::actors
