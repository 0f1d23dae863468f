#include "actors/node_actor.hpp"

#include <unordered_map>

#include "actors/messages.hpp"

namespace weft::actors {
namespace {

struct node_state;
using node_actor = caf::stateful_actor<node_state>;

// The component's window onto its actor. All calls happen on the actor's own
// thread (inside one of its message handlers), so nothing here is locked.
class actor_node_context final : public flows::node_context {
 public:
  explicit actor_node_context(node_actor* self) : self_(self) {}
  std::string_view node_id() const override;
  void complete(flows::value_map outputs) override;
  void fail(std::string message) override;
  void after(std::chrono::milliseconds delay, std::function<void()> fn) override;
  void set_attribute(std::string key, std::string value) override;

 private:
  node_actor* self_;
};

struct node_state {
  std::shared_ptr<const run_shared> rs;
  int index = -1;
  caf::actor run;
  tracing::span_record span;
  bool finished = false;
  std::unordered_map<std::uint64_t, std::function<void()>> timers;
  std::uint64_t next_timer = 0;
  std::unique_ptr<actor_node_context> ctx;
  static inline const char* name = "weft.node";

  const flows::plan_node& node() const { return rs->plan->nodes[static_cast<std::size_t>(index)]; }
};

// Ends the node exactly once: closes its span and reports to the run with
// the span attached (also when the run cancelled it, so no span is left
// behind), then quits. Pending timers die with the actor.
void finish(node_actor* self, bool ok, flows::value_map outputs, std::string error) {
  auto& st = self->state;
  if (st.finished) return;
  st.finished = true;
  node_finished msg{st.index, ok, {}, {}, st.rs->sampled, {}};
  // A component's message may quote a secret (a `fail` built from ${TOKEN},
  // an exception echoing a header): masked before it reaches the span or
  // the run, which hands it on to callers.
  if (!ok) error = st.rs->mask(std::move(error));
  if (st.rs->sampled) {
    if (ok) {
      st.span.status = tracing::status_code::ok;
      if (st.rs->content) st.span.set("weft.outputs", st.rs->content_attribute(outputs));
    } else {
      st.span.status = tracing::status_code::error;
      st.span.status_message = error;
    }
    run_shared::close_span(st.span);
    msg.span = std::move(st.span);
  }
  msg.outputs = std::move(outputs);
  msg.error = std::move(error);
  self->send(st.run, std::move(msg));
  self->quit();
}

std::string_view actor_node_context::node_id() const { return self_->state.node().id; }

void actor_node_context::complete(flows::value_map outputs) {
  finish(self_, true, std::move(outputs), {});
}

void actor_node_context::fail(std::string message) {
  finish(self_, false, {}, message.empty() ? "failed" : std::move(message));
}

void actor_node_context::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto& st = self_->state;
  if (st.finished) return;
  auto id = st.next_timer++;
  st.timers.emplace(id, std::move(fn));
  self_->delayed_send(self_, delay, timer_atom::value, id);
}

void actor_node_context::set_attribute(std::string key, std::string value) {
  auto& st = self_->state;
  if (st.rs->sampled) st.span.set(std::move(key), st.rs->mask(std::move(value)));
}

// Runs component code, turning any exception into the node's error: an
// exception must never escape into the actor (and from there kill the run).
template <class F>
void guarded(node_actor* self, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    finish(self, false, {}, std::string("exception: ") + e.what());
  } catch (...) {
    finish(self, false, {}, "exception of unknown type");
  }
}

caf::behavior node_behavior(node_actor* self, std::shared_ptr<const run_shared> rs, int index,
                            flows::value_map inputs, tracing::trace_context ctx,
                            caf::actor run) {
  auto& st = self->state;
  st.rs = std::move(rs);
  st.index = index;
  st.run = std::move(run);
  st.ctx = std::make_unique<actor_node_context>(self);
  const auto& node = st.node();
  if (st.rs->sampled) {
    st.span = st.rs->open_span(ctx, node.id);
    st.span.set("weft.node.id", node.id);
    st.span.set("weft.node.type", node.type);
    if (st.rs->content) st.span.set("weft.inputs", st.rs->content_attribute(inputs));
  }
  if (node.timeout_ms > 0)
    self->delayed_send(self, std::chrono::milliseconds(node.timeout_ms), timeout_atom::value);
  guarded(self, [&] { node.impl->start(*self->state.ctx, std::move(inputs)); });
  return {
      [=](timer_atom, std::uint64_t id) {
        auto& timers = self->state.timers;
        auto i = timers.find(id);
        if (i == timers.end()) return;
        // Take the callback out first: it may finish the node, which must not
        // destroy the function while it runs.
        auto fn = std::move(i->second);
        timers.erase(i);
        guarded(self, fn);
      },
      [=](timeout_atom) { finish(self, false, {}, "timeout"); },
      [=](cancel_atom, const std::string& why) { finish(self, false, {}, why); },
  };
}

}  // namespace

caf::actor spawn_node(caf::local_actor* run, std::shared_ptr<const run_shared> rs, int index,
                      flows::value_map inputs, tracing::trace_context ctx) {
  bool blocking = rs->plan->nodes[static_cast<std::size_t>(index)].blocking;
  auto parent = caf::actor_cast<caf::actor>(run);
  if (blocking)
    return run->spawn<caf::detached>(node_behavior, std::move(rs), index, std::move(inputs),
                                     std::move(ctx), std::move(parent));
  return run->spawn(node_behavior, std::move(rs), index, std::move(inputs), std::move(ctx),
                    std::move(parent));
}

}  // namespace weft::actors
