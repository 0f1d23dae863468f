// The node actor's side of the component SDK (include/weft/component.hpp):
// the node_context a component sees, and the state of the actor behind it.
//
// The context is shared (components keep it alive with shared_from_this()
// for post()), while the actor may be gone: so it never touches the actor
// after the node has ended, and everything a span handle needs lives in the
// context itself. Only post() crosses threads, through a weak actor handle
// and an atomic "ended" flag; everything else runs on the actor's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <caf/all.hpp>

#include "actors/messages.hpp"
#include "actors/run_context.hpp"
#include "actors/run_secrets.hpp"
#include "net/http_types.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"
#include "weft/component.hpp"

namespace weft::actors {

class actor_node_context;

struct node_state {
  std::shared_ptr<const run_context> rs;
  int index = -1;
  run_actor run;
  bool finished = false;
  std::uint64_t start_ns = 0;
  std::shared_ptr<actor_node_context> ctx;
  /// The node's report, held back while child runs it started still hold
  /// actors or spans (they were cancelled when it ended).
  std::optional<node_finished> held_report;
  static inline const char* name = "weft.node";

  const flows::plan_node& node() const { return rs->plan->nodes[static_cast<std::size_t>(index)]; }
};

/// Installs the node actor's handler for its child runs' down messages.
void watch_child_runs(caf::stateful_actor<node_state>* self);

/// How many child spans a node may open, and events a span may hold; past
/// these a handle is inert and the drop is counted on the node's span
/// (`weft.spans_dropped`, `weft.events_dropped`).
inline constexpr std::size_t max_child_spans = 1000;
inline constexpr std::size_t max_span_events = 128;
/// How many HTTP requests one node may have in flight; past this a request
/// fails at once (error_type "other") without being sent.
inline constexpr std::size_t max_pending_http = 512;

class actor_node_context final : public node_context {
 public:
  using finish_fn = std::function<void(bool ok, flows::value_map outputs, std::string error,
                                       std::string error_type)>;

  actor_node_context(caf::stateful_actor<node_state>* self, const tracing::trace_context& ctx);

  // The SDK.
  std::string_view node_id() const override { return node_id_; }
  const trace_info& trace() const override;
  using node_context::set_attribute;
  void set_attribute(std::string key, attribute_value value) override;
  void emit(value data) override;
  bool observed() const override { return rs_->observed; }
  void post(std::function<void()> fn) override;
  void on_cancel(std::function<void()> fn) override;
  void after(std::chrono::milliseconds delay, std::function<void()> fn) override;
  void http(http_request req, std::function<void(http_response)> on_response,
            std::function<void(std::string_view)> on_chunk, const span& under) override;
  std::uint64_t run_child(child_run run, std::function<void(child_result)> done) override;
  void cancel_child(std::uint64_t id, std::string why) override;
  void record_llm_call(const llm_call_record& call) override;
  void complete(value_map outputs) override;
  void fail(std::string message, std::string error_type) override;
  bool ended() const override { return ended_.load(std::memory_order_acquire); }

  // The actor's side.
  finish_fn on_finish;  // set by the actor; called at most once, by complete/fail
  tracing::span_record& node_span() { return node_span_; }
  /// Marks the node ended: from now on every SDK call is a no-op.
  void mark_ended();
  /// The child spans, the unfinished ones ended now with status error.
  std::vector<tracing::span_record> take_children();
  /// The cancel handlers, taken out; complete/fail are ignored from now on.
  std::vector<std::function<void()>> begin_cancel();
  /// The timer's callback, taken out (empty when unknown or ended).
  std::function<void()> take_timer(std::uint64_t id);
  /// The chunk callback of HTTP request `tag` (null when unknown, ended, or
  /// the request has none). Shared: the callback may end the node, which
  /// forgets the request, while it runs.
  std::shared_ptr<std::function<void(std::string_view)>> http_chunk_fn(std::uint64_t tag);
  /// The response callback of HTTP request `tag`, taken out (empty when
  /// unknown or ended).
  std::function<void(http_response)> take_http(std::uint64_t tag);
  /// The public response for what the client answered.
  static http_response to_public(net::http_response r);
  /// Child run `id` finished: its done callback, taken out (empty when
  /// unknown or the node has ended).
  std::function<void(child_result)> take_child_done(std::uint64_t id);
  /// The event-path label of child run `id`, or nullptr when unknown.
  const std::string* child_label(std::uint64_t id) const;
  /// Child run `id` let go of every actor and span (or its actor is gone:
  /// `down`). Returns how many child runs still hold on.
  std::size_t child_released(std::uint64_t id);
  std::size_t child_down(const caf::actor_addr& who);
  /// Child runs started and not yet released.
  std::size_t children_holding() const { return child_runs_.size(); }

 protected:
  std::uint32_t span_open(std::uint32_t parent, std::string name, span_kind kind) override;
  void span_set(std::uint32_t index, std::string key, attribute_value v) override;
  void span_event(std::uint32_t index, std::string name,
                  std::vector<std::pair<std::string, attribute_value>> attrs) override;
  void span_set_status(std::uint32_t index, span_status s, std::string message) override;
  void span_end(std::uint32_t index) override;
  bool span_recording(std::uint32_t index) const override;
  std::string span_traceparent(std::uint32_t index) const override;

 private:
  struct child {
    tracing::span_record rec;
    bool ended = false;
  };
  // The open child span at `index` (1-based), or nullptr.
  child* open_child(std::uint32_t index);
  tracing::attribute_value to_record(attribute_value v) const;
  // The index of `s` when it is a span of this node (0: the node's span,
  // also for an inert or foreign handle).
  std::uint32_t index_of(const span& s) const;
  // Aborts every request in flight: the node is ending. A request's open
  // span ends with status error.
  void abort_http();
  // Cancels every child run still going: the node is ending.
  void cancel_children();
  // Answers request `tag` with a failure, through the mailbox like any answer.
  void fail_http(std::uint64_t tag, std::string message);

  struct pending_http {
    std::function<void(http_response)> on_response;
    std::shared_ptr<std::function<void(std::string_view)>> on_chunk;
    std::uint32_t span = 0;  // the span it was made under
  };

  caf::stateful_actor<node_state>* self_;  // used on the actor's thread, before the end only
  caf::actor_addr addr_;                   // post() from other threads: weak, may be gone
  std::shared_ptr<const run_context> rs_;
  std::string node_id_;
  tracing::trace_context tctx_;  // the run's context, parent: the run span
  mutable trace_info info_;      // trace(), built on first use
  mutable bool info_built_ = false;
  tracing::span_record node_span_;
  std::vector<child> children_;
  std::size_t spans_dropped_ = 0;
  std::size_t events_dropped_ = 0;
  std::unordered_map<std::uint64_t, std::function<void()>> timers_;
  std::uint64_t next_timer_ = 0;
  std::vector<std::function<void()>> cancel_handlers_;
  std::unordered_map<std::uint64_t, pending_http> http_;
  std::uint64_t next_http_ = 1;
  net::http_client_actor http_client_;  // the engine's, once this node made a request
  struct child_entry {
    run_actor actor;
    std::string label;
    std::function<void(child_result)> done;
    bool finished = false;  // its result came (or it was told to stop)
  };
  std::unordered_map<std::uint64_t, child_entry> child_runs_;  // until released
  std::uint64_t next_child_ = 1;
  std::atomic<bool> ended_{false};
  bool cancelling_ = false;
};

}  // namespace weft::actors
