// The worker for a blocking sink (the file sink): writes on its own thread.
#include "export/messages.hpp"
#include "export/sink_worker.hpp"

namespace weft::exporting {
namespace {

struct blocking_state {
  std::shared_ptr<tracing::sink> sink;
  sink_stats stats;
  log_fn log;
  std::uint64_t last_log_ns = 0;
  static inline const char* name = "weft.sink.blocking";
};

sink_worker::behavior_type blocking_worker(sink_worker::stateful_pointer<blocking_state> self,
                                           std::shared_ptr<tracing::sink> s, log_fn log) {
  self->state.sink = std::move(s);
  self->state.log = std::move(log);
  self->state.stats.name = self->state.sink->name();
  return {
      [=](const span_batch& b) -> std::uint64_t {
        auto& st = self->state;
        auto n = b.spans->size();
        st.stats.received += n;
        auto err = st.sink->write(*b.spans);
        if (err.empty()) {
          st.stats.exported += n;
          return n;
        }
        // A file sink has nowhere else to put a batch it cannot write: the
        // spans are counted as dropped, and the log says why (at most once
        // a second).
        ++st.stats.failed_batches;
        st.stats.dropped["write_error"] += n;
        auto now = tracing::now_unix_ns();
        if (now - st.last_log_ns > 1'000'000'000ULL) {
          st.last_log_ns = now;
          st.log(log_level::error, "sink '" + st.stats.name + "' failed, " +
                                       std::to_string(st.stats.dropped["write_error"]) +
                                       " spans dropped so far: " + err);
        }
        return n;
      },
      [=](flush_atom, std::int64_t) -> bool {
        auto err = self->state.sink->flush();
        return err.empty();
      },
      [=](stats_atom) { return self->state.stats; },
  };
}

}  // namespace

sink_worker spawn_blocking_worker(caf::actor_system& sys, std::shared_ptr<tracing::sink> s,
                                  log_fn log) {
  return sys.spawn<caf::detached>(blocking_worker, std::move(s), std::move(log));
}

}  // namespace weft::exporting
