#include "export/exporter.hpp"

#include "export/messages.hpp"

namespace weft::exporting {
namespace {

struct exporter_state {
  exporter_config cfg;
  std::vector<tracing::span_record> pending;
  std::int64_t pending_bytes = 0;  // estimated encoded size of `pending`
  std::vector<sink_worker> workers;
  std::vector<std::uint64_t> outstanding;                     // per worker: sent, not yet taken in
  std::vector<std::map<std::string, std::uint64_t>> dropped;  // per worker
  std::uint64_t last_drop_log_ns = 0;
  std::uint64_t spans_received = 0;
  static inline const char* name = "weft.exporter";
};
using exporter_self = exporter_actor::stateful_pointer<exporter_state>;

// Roughly what a span costs in OTLP/JSON: its strings plus the fixed part
// (ids, times, field names). Cheap to compute, and close enough to keep
// requests under the byte budget.
std::int64_t estimated_size(const tracing::span_record& s) {
  std::size_t n = 260 + s.name.size() + s.status_message.size();
  auto add = [&n](const std::vector<tracing::attribute>& attributes) {
    for (auto& a : attributes) {
      n += 40 + a.key.size();
      if (auto p = std::get_if<std::string>(&a.value)) {
        n += p->size();
      } else if (auto arr = std::get_if<std::vector<std::string>>(&a.value)) {
        for (auto& item : *arr) n += 20 + item.size();
      }
    }
  };
  add(s.attributes);
  for (auto& e : s.events) {
    n += 60 + e.name.size();
    add(e.attributes);
  }
  return static_cast<std::int64_t>(n);
}

void dispatch(exporter_self self) {
  auto& st = self->state;
  if (st.pending.empty()) return;
  // One immutable batch shared by every sink: no sink can see or change
  // another's copy, and none pays for a copy.
  auto batch = std::make_shared<const std::vector<tracing::span_record>>(std::move(st.pending));
  st.pending = {};
  st.pending_bytes = 0;
  st.pending.reserve(static_cast<std::size_t>(st.cfg.batch_max_spans));
  for (std::size_t i = 0; i < st.workers.size(); ++i) {
    auto n = batch->size();
    if (st.outstanding[i] + n > static_cast<std::uint64_t>(st.cfg.max_outstanding_spans)) {
      st.dropped[i]["queue_full"] += n;
      auto now = tracing::now_unix_ns();
      if (now - st.last_drop_log_ns > 60'000'000'000ULL) {
        st.last_drop_log_ns = now;
        st.cfg.log(log_level::error, "exporter: a sink is " + std::to_string(st.outstanding[i]) +
                                         " spans behind; dropping spans (queue_full)");
      }
      continue;
    }
    st.outstanding[i] += n;
    self->request(st.workers[i], std::chrono::minutes(10), span_batch{batch})
        .then([=](std::uint64_t) { self->state.outstanding[i] -= n; },
              [=](caf::error&) { self->state.outstanding[i] -= n; });
  }
}

// Asks every worker the same question and combines the answers; a worker
// that does not answer in time contributes `fallback`.
template <class Answer, class T, class Promise, class Combine, class... Ts>
void gather(exporter_self self, Promise rp, std::shared_ptr<T> acc,
            std::chrono::milliseconds timeout, Combine combine, Ts... xs) {
  auto& workers = self->state.workers;
  auto remaining = std::make_shared<std::size_t>(workers.size());
  for (std::size_t i = 0; i < workers.size(); ++i) {
    self->request(workers[i], timeout, xs...)
        .then(
            [=](Answer& answer) mutable {
              combine(*acc, i, std::optional<Answer>(std::move(answer)));
              if (--*remaining == 0) rp.deliver(std::move(*acc));
            },
            [=](caf::error&) mutable {
              combine(*acc, i, std::nullopt);
              if (--*remaining == 0) rp.deliver(std::move(*acc));
            });
  }
}

exporter_actor::behavior_type exporter(exporter_self self, std::vector<sink_worker> workers,
                                       const exporter_config& cfg) {
  auto& st = self->state;
  st.cfg = cfg;
  st.pending.reserve(static_cast<std::size_t>(cfg.batch_max_spans));
  st.workers = std::move(workers);
  st.outstanding.resize(st.workers.size());
  st.dropped.resize(st.workers.size());
  for (auto& w : st.workers) self->link_to(w);
  self->delayed_send(caf::actor_cast<exporter_actor>(self),
                     std::chrono::milliseconds(cfg.batch_delay_ms), tick_atom::value);
  return {
      [=](std::vector<tracing::span_record>& spans) {
        auto& st = self->state;
        st.spans_received += spans.size();
        if (st.workers.empty()) return;
        for (auto& s : spans) {
          st.pending_bytes += estimated_size(s);
          st.pending.push_back(std::move(s));
          if (static_cast<std::int64_t>(st.pending.size()) >= st.cfg.batch_max_spans ||
              st.pending_bytes >= st.cfg.batch_max_bytes)
            dispatch(self);
        }
      },
      [=](tick_atom) {
        dispatch(self);
        self->delayed_send(caf::actor_cast<exporter_actor>(self),
                           std::chrono::milliseconds(self->state.cfg.batch_delay_ms),
                           tick_atom::value);
      },
      [=](flush_atom, std::int64_t deadline_ms) -> caf::result<bool> {
        dispatch(self);
        if (self->state.workers.empty()) return true;
        auto rp = self->make_response_promise<bool>();
        // Workers enforce the deadline themselves; the extra second only
        // guards against a worker that cannot answer at all.
        auto timeout = std::chrono::milliseconds(deadline_ms + 1000);
        gather<bool>(
            self, rp, std::make_shared<bool>(true), timeout,
            [](bool& all, std::size_t, std::optional<bool> ok) { all = all && ok.value_or(false); },
            flush_atom::value, deadline_ms);
        return rp;
      },
      [=](stats_atom) -> caf::result<exporter_stats> {
        auto acc = std::make_shared<exporter_stats>();
        acc->spans_received = self->state.spans_received;
        acc->sinks.resize(self->state.workers.size());
        if (self->state.workers.empty()) return *acc;
        auto rp = self->make_response_promise<exporter_stats>();
        gather<sink_stats>(
            self, rp, acc, std::chrono::seconds(5),
            [self](exporter_stats& all, std::size_t i, std::optional<sink_stats> s) {
              if (s) all.sinks[i] = std::move(*s);
              else all.sinks[i].name = "(no answer)";
              // Spans the exporter never handed over count for this sink.
              for (auto& [why, n] : self->state.dropped[i]) {
                all.sinks[i].dropped[why] += n;
                all.sinks[i].received += n;
              }
              all.sinks[i].queued += self->state.outstanding[i];
            },
            stats_atom::value);
        return rp;
      },
  };
}

}  // namespace

exporter_actor spawn_exporter(caf::actor_system& sys, std::vector<sink_worker> workers,
                              exporter_config cfg) {
  return sys.spawn(exporter, std::move(workers), cfg);
}

}  // namespace weft::exporting
