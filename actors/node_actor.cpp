#include "actors/node_actor.hpp"

#include <atomic>
#include <unordered_map>

#include "actors/messages.hpp"
#include "actors/node_context_impl.hpp"
#include "net/http_client.hpp"

namespace weft::actors {
namespace {

using node_actor = caf::stateful_actor<node_state>;

// Ends the node exactly once: closes its span and the child spans the
// component left open, reports to the run with every span attached (also
// when the run cancelled it, so no span is left behind), then quits.
// Pending timers, cancel handlers and posts die with the context; pending
// HTTP requests are aborted (mark_ended), so their servers see the close.
void finish(node_actor* self, bool ok, flows::value_map outputs, std::string error,
            std::string error_type = {}) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  st.ctx->mark_ended();
  node_finished msg;
  msg.node = st.index;
  msg.ok = ok;
  msg.has_span = st.rs->sampled;
  msg.duration_ms = static_cast<double>(tracing::now_unix_ns() - st.start_ns) / 1e6;
  // A component's message may quote a secret (a `fail` built from ${TOKEN},
  // an exception echoing a header): masked before it reaches the span or
  // the run, which hands it on to callers.
  if (!ok) error = st.rs->mask(std::move(error));
  if (st.rs->sampled) {
    auto& span = st.ctx->node_span();
    if (ok) {
      span.status = tracing::status_code::ok;
      if (st.rs->content) span.set("weft.outputs", st.rs->content_attribute(outputs));
    } else {
      span.status = tracing::status_code::error;
      span.status_message = error;
      if (!error_type.empty()) span.set("error.type", std::move(error_type));
    }
    run_context::close_span(span);
    msg.span = std::move(span);
    msg.children = st.ctx->take_children();
  }
  msg.outputs = std::move(outputs);
  msg.error = std::move(error);
  if (st.ctx->children_holding() > 0) {
    st.held_report = std::move(msg);  // sent once the last child releases
    return;
  }
  self->send(st.run, std::move(msg));
  self->quit();
}

// A child run let go of everything: the held report goes out with the last.
void child_gone(node_actor* self, std::size_t still_holding) {
  auto& st = self->state;
  if (still_holding > 0 || !st.held_report) return;
  self->send(st.run, std::move(*st.held_report));
  st.held_report.reset();
  self->quit();
}

// Runs component code, turning any exception into the node's error: an
// exception must never escape into the actor (and from there kill the run).
template <class F>
void guarded(node_actor* self, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    finish(self, false, {}, std::string("exception: ") + e.what(), "exception");
  } catch (...) {
    finish(self, false, {}, "exception of unknown type", "exception");
  }
}

// The node is stopped from outside: its cancel handlers run first (they may
// abort work or note why on their spans), then it ends with `why`.
void cancel(node_actor* self, std::string why, std::string error_type) {
  auto& st = self->state;
  if (st.finished) return;
  auto handlers = st.ctx->begin_cancel();
  for (auto& fn : handlers) guarded(self, fn);
  finish(self, false, {}, std::move(why), std::move(error_type));
}

caf::behavior node_behavior(node_actor* self, std::shared_ptr<const run_context> rs, int index,
                            flows::value_map inputs, const tracing::trace_context& ctx,
                            run_actor run, tracing::span_id preset) {
  auto& st = self->state;
  st.rs = std::move(rs);
  st.index = index;
  st.run = std::move(run);
  st.start_ns = tracing::now_unix_ns();
  const auto& node = st.node();
  st.ctx = std::make_shared<actor_node_context>(self, ctx);
  // Before anything reads it: the component's spans and child runs hang
  // from this id.
  if (preset.valid()) st.ctx->node_span().id = preset;
  st.ctx->on_finish = [self](bool ok, flows::value_map out, std::string err, std::string type) {
    finish(self, ok, std::move(out), std::move(err), std::move(type));
  };
  if (st.rs->sampled) {
    auto& span = st.ctx->node_span();
    span.set("weft.node.id", node.id);
    span.set("weft.node.type", node.type);
    if (st.rs->content) span.set("weft.inputs", st.rs->content_attribute(inputs));
  }
  if (st.rs->observed) self->send(st.run, node_started_atom::value, index, st.ctx->trace().span_id);
  if (node.timeout_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(node.timeout_ms), timeout_atom::value);
  guarded(self, [&] { node.impl->start(*self->state.ctx, std::move(inputs)); });
  return {
      [=](timer_atom, std::uint64_t id) {
        if (auto fn = self->state.ctx->take_timer(id)) guarded(self, fn);
      },
      [=](post_atom, posted_fn& p) {
        if (!self->state.finished && p.fn) guarded(self, p.fn);
      },
      [=](timeout_atom) {
        cancel(self,
               "timeout: the node exceeded its timeout_ms of " +
                   std::to_string(self->state.node().timeout_ms) + " ms",
               "timeout");
      },
      [=](cancel_atom, const std::string& why) { cancel(self, why, "cancelled"); },
      // node_context::http: the engine's client streams chunks and sends the
      // result here. A tag the context no longer knows (aborted, or the
      // node ended) is dropped; the chunk's bytes return to the request's
      // stream window when this message dies.
      [=](net::http_chunk_atom, std::uint64_t tag, const net::http_chunk& c) {
        if (self->state.finished) return;
        if (auto fn = self->state.ctx->http_chunk_fn(tag))
          guarded(self, [&] { (*fn)(std::string_view(c.bytes)); });
      },
      [=](child_done_atom, std::uint64_t id, child_outcome& o) {
        if (self->state.finished) return;
        if (auto fn = self->state.ctx->take_child_done(id))
          guarded(self, [&] { fn(std::move(o.result)); });
      },
      [=](child_event_atom, std::uint64_t id, event_msg& m) {
        auto& st = self->state;
        if (st.finished) return;
        const std::string* label = st.ctx->child_label(id);
        if (!label) return;
        if (!label->empty()) m.event.path.insert(m.event.path.begin(), *label);
        self->send(st.run, child_event_atom::value, st.index, std::move(m));
      },
      [=](child_released_atom, std::uint64_t id) {
        child_gone(self, self->state.ctx->child_released(id));
      },
      [=](net::http_result_atom, std::uint64_t tag, net::http_response& r) {
        if (self->state.finished) return;
        if (auto fn = self->state.ctx->take_http(tag))
          guarded(self, [&] { fn(actor_node_context::to_public(std::move(r))); });
      },
  };
}

}  // namespace

caf::actor spawn_node(caf::local_actor* run, std::shared_ptr<const run_context> rs, int index,
                      flows::value_map inputs, tracing::trace_context ctx, tracing::span_id span) {
  bool blocking = rs->plan->nodes[static_cast<std::size_t>(index)].blocking;
  auto parent = caf::actor_cast<run_actor>(run);
  if (blocking)
    return run->spawn<caf::detached>(node_behavior, std::move(rs), index, std::move(inputs),
                                     std::move(ctx), std::move(parent), span);
  return run->spawn(node_behavior, std::move(rs), index, std::move(inputs), std::move(ctx),
                    std::move(parent), span);
}

// The node watches its child runs (node_context::run_child calls this on
// the first one; most nodes never start any, and pay nothing): a child run
// actor that stops without releasing counts as released, with an error.
void watch_child_runs(caf::stateful_actor<node_state>* self) {
  self->set_down_handler([self](caf::down_msg& d) {
    std::size_t left = 0;
    guarded(self, [&] { left = self->state.ctx->child_down(d.source); });
    child_gone(self, left);
  });
}

}  // namespace weft::actors
