#include "actors/exporter.hpp"

#include <sstream>

#include "actors/messages.hpp"

namespace weft::actors {
namespace {

using caf::behavior;

// A sink worker owns one sink and runs detached: its blocking writes happen
// on its own thread. It reports every result back to the exporter.
behavior sink_worker(caf::event_based_actor* self, std::shared_ptr<tracing::sink> s,
                     caf::actor exporter, int index) {
  return {
      [=](const span_batch& b) {
        auto err = s->write(*b.spans);
        self->send(exporter, written_atom::value, index,
                   static_cast<std::uint64_t>(b.spans->size()), std::move(err));
      },
      [=](flush_atom) -> bool {
        auto err = s->flush();
        if (!err.empty()) {
          self->send(exporter, written_atom::value, index, std::uint64_t{0}, std::move(err));
          return false;
        }
        return true;
      },
  };
}

struct exporter_state {
  exporter_config cfg;
  std::vector<tracing::span_record> pending;
  std::vector<caf::actor> workers;
  exporter_stats stats;
  std::uint64_t last_error_log_ns = 0;
  static inline const char* name = "weft.exporter";
};

void dispatch(caf::stateful_actor<exporter_state>* self) {
  auto& st = self->state;
  if (st.pending.empty()) return;
  auto batch = std::make_shared<const std::vector<tracing::span_record>>(std::move(st.pending));
  st.pending.clear();
  st.pending.reserve(static_cast<std::size_t>(st.cfg.batch_max_spans));
  for (std::size_t i = 0; i < st.workers.size(); ++i) {
    st.stats.sinks[i].received += batch->size();
    st.stats.sinks[i].queued += batch->size();
    self->send(st.workers[i], span_batch{batch});
  }
}

behavior exporter(caf::stateful_actor<exporter_state>* self,
                  std::shared_ptr<std::vector<std::unique_ptr<tracing::sink>>> sinks,
                  exporter_config cfg) {
  auto& st = self->state;
  st.cfg = cfg;
  st.pending.reserve(static_cast<std::size_t>(cfg.batch_max_spans));
  for (std::size_t i = 0; i < sinks->size(); ++i) {
    std::shared_ptr<tracing::sink> s = std::move((*sinks)[i]);
    sink_stats ss;
    ss.name = s->name();
    st.stats.sinks.push_back(std::move(ss));
    st.workers.push_back(self->spawn<caf::detached + caf::linked>(
        sink_worker, std::move(s), caf::actor_cast<caf::actor>(self), static_cast<int>(i)));
  }
  self->delayed_send(self, std::chrono::milliseconds(cfg.batch_delay_ms), tick_atom::value);
  return {
      [=](std::vector<tracing::span_record>& spans) {
        auto& st = self->state;
        st.stats.spans_received += spans.size();
        if (st.workers.empty()) return;
        for (auto& s : spans) st.pending.push_back(std::move(s));
        if (static_cast<std::int64_t>(st.pending.size()) >= st.cfg.batch_max_spans) dispatch(self);
      },
      [=](tick_atom) {
        dispatch(self);
        self->delayed_send(self, std::chrono::milliseconds(self->state.cfg.batch_delay_ms),
                           tick_atom::value);
      },
      [=](written_atom, int index, std::uint64_t count, const std::string& err) {
        auto& ss = self->state.stats.sinks.at(static_cast<std::size_t>(index));
        ss.queued -= std::min(ss.queued, count);
        if (err.empty()) {
          ss.exported += count;
          return;
        }
        // Issue-2 sinks have no spool to fall back on: a failed write is a
        // counted drop, and the log says why (rate-limited to once a second).
        ++ss.failed_batches;
        if (count > 0) ss.dropped["sink_error"] += count;
        auto now = tracing::now_unix_ns();
        if (now - self->state.last_error_log_ns > 1'000'000'000ULL) {
          self->state.last_error_log_ns = now;
          std::fprintf(stderr, "weft: sink '%s' failed, %llu spans dropped so far: %s\n",
                       ss.name.c_str(), static_cast<unsigned long long>(ss.dropped["sink_error"]),
                       err.c_str());
        }
      },
      [=](flush_atom) -> caf::result<bool> {
        dispatch(self);
        auto& workers = self->state.workers;
        if (workers.empty()) return true;
        auto rp = self->make_response_promise<bool>();
        auto remaining = std::make_shared<std::size_t>(workers.size());
        auto all_ok = std::make_shared<bool>(true);
        for (auto& w : workers) {
          self->request(w, std::chrono::seconds(60), flush_atom::value)
              .then(
                  [=](bool ok) mutable {
                    *all_ok = *all_ok && ok;
                    if (--*remaining == 0) rp.deliver(*all_ok);
                  },
                  [=](caf::error&) mutable {
                    *all_ok = false;
                    if (--*remaining == 0) rp.deliver(false);
                  });
        }
        return rp;
      },
      [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

std::uint64_t exporter_stats::total_dropped() const {
  std::uint64_t n = 0;
  for (auto& s : sinks)
    for (auto& [_, c] : s.dropped) n += c;
  return n;
}

std::string exporter_stats::to_string() const {
  std::ostringstream o;
  o << "spans received: " << spans_received;
  for (auto& s : sinks) {
    o << "\nsink " << s.name << ": received " << s.received << ", exported " << s.exported
      << ", queued " << s.queued << ", failed batches " << s.failed_batches;
    for (auto& [why, n] : s.dropped) o << ", dropped(" << why << ") " << n;
  }
  return o.str();
}

caf::actor spawn_exporter(caf::actor_system& sys, std::vector<std::unique_ptr<tracing::sink>> sinks,
                          exporter_config cfg) {
  auto shared = std::make_shared<std::vector<std::unique_ptr<tracing::sink>>>(std::move(sinks));
  return sys.spawn(exporter, std::move(shared), cfg);
}

}  // namespace weft::actors
