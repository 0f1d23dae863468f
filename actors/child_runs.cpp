// node_context::run_child: child runs that a composite node supervises.
//
// A child run is a run actor of its own (actors/run_actor.cpp) whose root
// span hangs under the node's span, in the node's trace. The node monitors
// it and counts it until it has let go of every actor and span (its job's
// `released`), so that the node reports its own end, and with it the whole
// subtree's, only when nothing of the subtree is still in flight: a flush
// after the top-level result then finds every span.
#include "actors/messages.hpp"
#include "actors/node_context_impl.hpp"
#include "actors/run_actor.hpp"
#include "flows/inputs.hpp"

namespace weft::actors {

std::uint64_t actor_node_context::run_child(child_run run, std::function<void(child_result)> done) {
  if (ended() || cancelling_) return 0;
  auto refuse = [&](std::string why) -> std::uint64_t {
    child_result r;
    r.error = rs_->mask(std::move(why));
    auto fn = std::make_shared<std::function<void(child_result)>>(std::move(done));
    post([fn, r = std::move(r)]() mutable {
      if (*fn) (*fn)(std::move(r));
    });
    return 0;
  };
  if (!run.flow) return refuse("run_child: no flow given");
  if (rs_->depth + 1 >= max_run_depth)  // depth counts from 0
    return refuse("child runs nest deeper than " + std::to_string(max_run_depth) +
                  " levels (flow '" + run.flow->name() + "' under node '" + node_id_ + "')");
  auto problems = flows::check_inputs(*run.flow, run.inputs, rs_->max_value_depth);
  if (!problems.empty()) {
    std::string all;
    for (auto& p : problems) all += (all.empty() ? "" : "; ") + p.message;
    return refuse("flow '" + run.flow->name() + "': " + all);
  }
  const auto id = next_child_++;
  auto job = std::make_shared<run_job>();
  job->plan = std::move(run.flow);
  job->inputs = std::move(run.inputs);
  // Under the span the component named (a tool call's), else the node's.
  const auto under = index_of(run.under);
  job->ctx = tctx_.child_of(under == 0 ? node_span_.id : children_[under - 1].rec.id);
  job->run_id = new_run_id();
  job->root_run_id = rs_->root_run_id;
  job->parent_run_id = rs_->run_id;
  job->depth = rs_->depth + 1;
  job->content = rs_->content;
  job->max_value_depth = rs_->max_value_depth;
  job->exporter = rs_->exporter;
  job->http = rs_->http;
  job->llm = rs_->llm;
  job->placer = rs_->placer;
  job->parent_secrets = rs_->secrets;
  job->span_attributes.reserve(run.attributes.size());
  for (auto& [k, v] : run.attributes) job->span_attributes.emplace_back(k, to_record(std::move(v)));
  // The child reports to this node through its mailbox, whatever thread
  // the child's run actor is on. A strong handle: the node actor stays
  // until the child has released (it waits for that), so it is never dead
  // while these can fire, and after the node quits they are dropped.
  auto me = caf::actor_cast<caf::actor>(self_);
  job->done = [me, id](run_result r) {
    child_outcome o;
    o.result.ok = r.ok;
    o.result.outputs = std::move(r.outputs);
    o.result.error = std::move(r.error);
    o.result.failed_node = std::move(r.failed_node);
    caf::anon_send(me, child_done_atom::value, id, std::move(o));
  };
  if (rs_->observed)
    job->on_event = [me, id](const run_event& e) {
      // The child's own end is its node's business (node_finished of
      // this node), not an event of the top-level run.
      if (e.type == run_event::kind::run_finished) return;
      caf::anon_send(me, child_event_atom::value, id, event_msg{e});
    };
  job->released = [me, id] { caf::anon_send(me, child_released_atom::value, id); };
  auto actor = spawn_run(self_->system(), std::move(job));
  if (next_child_ == 2) watch_child_runs(self_);  // the first child run
  self_->monitor(actor);
  child_runs_.emplace(id, child_entry{actor, std::move(run.label), std::move(done), false});
  self_->send(actor, start_atom::value);
  return id;
}

void actor_node_context::cancel_child(std::uint64_t id, std::string why) {
  if (ended()) return;
  auto i = child_runs_.find(id);
  if (i == child_runs_.end() || i->second.finished) return;
  self_->send(i->second.actor, cancel_atom::value, rs_->mask(std::move(why)));
}

std::function<void(child_result)> actor_node_context::take_child_done(std::uint64_t id) {
  if (ended()) return {};
  auto i = child_runs_.find(id);
  if (i == child_runs_.end() || i->second.finished) return {};
  i->second.finished = true;
  auto fn = std::move(i->second.done);
  if (!fn) fn = [](const child_result&) {};
  return fn;
}

const std::string* actor_node_context::child_label(std::uint64_t id) const {
  auto i = child_runs_.find(id);
  return i == child_runs_.end() ? nullptr : &i->second.label;
}

std::size_t actor_node_context::child_released(std::uint64_t id) {
  child_runs_.erase(id);
  return child_runs_.size();
}

std::size_t actor_node_context::child_down(const caf::actor_addr& who) {
  for (auto i = child_runs_.begin(); i != child_runs_.end(); ++i)
    if (i->second.actor.address() == who) {
      // Gone without releasing (it released first in every normal end, so
      // this entry would be erased already): a crash. A done callback that
      // never ran gets the news.
      auto entry = std::move(i->second);
      child_runs_.erase(i);
      if (!entry.finished && entry.done && !ended()) {
        child_result r;
        r.error = "child run of flow ended without a result (its actor stopped)";
        entry.done(std::move(r));
      }
      break;
    }
  return child_runs_.size();
}

void actor_node_context::cancel_children() {
  for (auto& [id, c] : child_runs_) {
    c.done = nullptr;  // may capture the context: break the cycle
    if (c.finished) continue;
    c.finished = true;
    self_->send(c.actor, cancel_atom::value,
                std::string("cancelled: node '" + node_id_ + "' ended"));
  }
}

}  // namespace weft::actors
