// What every actor of one run shares, read-only: the plan, the run's
// identity and where spans go. Created by the run actor, handed to each node
// actor it spawns, and never mutated afterwards, so no locking is needed.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include <caf/all.hpp>

#include "flows/plan.hpp"
#include "tracing/redaction.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

/// The engine's HTTP client for components (node_context::http): one per
/// engine, shared by all its runs, spawned on first use by whichever node
/// asks first, on whatever scheduler thread that is. The engine owns it and
/// hands it to runs through run_job and run_shared (no global).
class component_http {
 public:
  explicit component_http(std::function<caf::actor()> spawn) : spawn_(std::move(spawn)) {}
  /// The client, spawned now if this is the first call; null once closed.
  caf::actor get() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!client_ && !closed_ && spawn_) client_ = spawn_();
    return client_;
  }
  /// Hands out nothing from now on; returns the client if it was started.
  caf::actor close() {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    spawn_ = nullptr;
    return std::exchange(client_, caf::actor{});
  }
  bool started() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<bool>(client_);
  }

 private:
  mutable std::mutex mu_;
  std::function<caf::actor()> spawn_;
  caf::actor client_;
  bool closed_ = false;
};

/// The token usage of a top-level run and all its child runs, and the
/// engine's hook for every model call (engine_options::on_llm_call).
struct llm_tally {
  std::atomic<std::int64_t> input{0};
  std::atomic<std::int64_t> output{0};
  const std::function<void(const llm_call_record&)>* on_call = nullptr;  // the engine's, or null
};

struct run_shared {
  std::shared_ptr<const flows::plan> plan;
  std::string run_id;
  /// The top-level run's id: the same as run_id, except in child runs
  /// (sub-flows, map items, loop iterations), which carry it on every span
  /// as weft.root_run.id (a top-level run's spans leave it out: it is
  /// their weft.run.id).
  std::string root_run_id;
  /// How deep this run nests: 0 for a top-level run, its parent's + 1 for a
  /// child run (bounded by max_run_depth).
  int depth = 0;
  bool content = false;  // record inputs and outputs on spans
  bool sampled = true;
  /// The run has an observer (run_options::on_event): nodes report their
  /// start and their chunks to the run actor. Without one nothing is sent.
  bool observed = false;
  /// Node outputs may nest this deep (engine_options::max_value_depth); a
  /// component that builds a deeper value fails its node instead.
  std::size_t max_value_depth = 64;
  caf::actor exporter;
  /// The engine's client for node_context::http (null: requests fail).
  std::shared_ptr<component_http> http;
  /// Shared by a top-level run and every child run under it.
  std::shared_ptr<llm_tally> llm;
  std::string session_id;
  std::string user_id;
  /// The values this run must never show: the flow's ${ENV} param values
  /// and its inputs under secret keys (null when there are none). Every text
  /// that leaves the run goes through mask() or content_attribute().
  std::shared_ptr<const tracing::secret_set> secrets;

  /// `text` with the run's secrets masked (as is when there are none).
  std::string mask(std::string text) const {
    if (secrets) secrets->mask_in_place(text);
    return text;
  }
  /// The JSON text of `values` for a span attribute, with secrets masked by
  /// key and by value.
  std::string content_attribute(const flows::value_map& values) const;

  /// A new span from `ctx` (its trace and tracestate, `ctx.parent` as
  /// parent) with the attributes every span of a run carries.
  tracing::span_record open_span(const tracing::trace_context& ctx, std::string name) const;
  /// Ends `s` now (sets its end time).
  static void close_span(tracing::span_record& s);
};

/// A new run id: a random UUID v4 (top-level and child runs alike).
std::string new_run_id();

/// Runs nest at most this many levels, the top-level run included (DESIGN:
/// nesting depth 16, as flows::max_flow_nesting checks at load); a
/// composite that would go deeper fails its node.
inline constexpr int max_run_depth = 16;

/// The secrets of a child run: its parent's (what the parent masks, the
/// child masks too) and its own (run_secrets). Shares when one side is empty.
std::shared_ptr<const tracing::secret_set> child_secrets(
    const std::shared_ptr<const tracing::secret_set>& parent,
    const std::shared_ptr<const tracing::secret_set>& own);

/// The secrets of a run of `plan` with `inputs`: the plan's env_secrets,
/// plus every input value under a secret key (shared with the plan when
/// the inputs add none, so most runs allocate nothing).
std::shared_ptr<const tracing::secret_set> run_secrets(const flows::plan& plan,
                                                       const flows::value_map& inputs);

}  // namespace weft::actors
