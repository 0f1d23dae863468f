// The delivery state machine of an HTTP sink: queue, retry, spool, replay.
// See http_sink.hpp for the rules it follows.
#include <deque>
#include <random>

#include <nlohmann/json.hpp>

#include "export/dead_letter.hpp"
#include "export/http_sink.hpp"
#include "export/messages.hpp"
#include "net/printable.hpp"
#include "tracing/spool.hpp"

namespace weft::exporting {
namespace {

using batch_ptr = std::shared_ptr<const std::vector<tracing::span_record>>;
using retry_atom = caf::atom_constant<caf::atom("wRetry")>;
using deadline_atom = caf::atom_constant<caf::atom("wDeadline")>;

// The worker's own interface: a sink worker's, plus its timers, which it
// sends only to itself (delayed_send).
using http_worker_actor =
    sink_worker::extend<caf::reacts_to<retry_atom>, caf::reacts_to<deadline_atom, std::uint64_t>>;

struct flush_waiter {
  caf::typed_response_promise<bool> rp;
  std::uint64_t id;
};

struct http_worker_state {
  std::shared_ptr<http_sink_protocol> proto;
  net::http_client_actor http;
  http_worker_config cfg;
  std::unique_ptr<tracing::spool> spool;
  std::unique_ptr<dead_letter_file> dead_letters;
  std::deque<batch_ptr> queue;
  std::uint64_t queued_spans = 0;
  std::map<std::uint64_t, batch_ptr> in_flight;  // request id -> batch
  std::uint64_t in_flight_spans = 0;
  std::uint64_t next_request = 0;
  bool replay_in_flight = false;  // the spool's oldest record is on the wire
  bool failing = false;           // waiting for the retry timer
  std::int64_t backoff_ms = 0;
  std::vector<flush_waiter> waiters;
  std::uint64_t next_waiter = 0;
  sink_stats stats;
  std::uint64_t last_drop_log_ns = 0;
  std::uint64_t last_fail_log_ns = 0;
  std::uint64_t last_split_log_ns = 0;
  std::uint64_t last_reject_log_ns = 0;
  std::mt19937_64 rng{std::random_device{}()};
  static inline const char* name = "weft.sink.http";
};
using worker_self = http_worker_actor::stateful_pointer<http_worker_state>;

void log_spool_warnings(worker_self self) {
  auto& st = self->state;
  if (!st.spool) return;
  for (auto& w : st.spool->take_warnings())
    st.cfg.log(log_level::warning, "sink '" + st.stats.name + "': " + w);
}

void drop(worker_self self, std::uint64_t n, const std::string& reason) {
  auto& st = self->state;
  st.stats.dropped[reason] += n;
  // Drops are always counted; the log says so at most once a minute.
  auto now = tracing::now_unix_ns();
  if (now - st.last_drop_log_ns > 60'000'000'000ULL) {
    st.last_drop_log_ns = now;
    st.cfg.log(log_level::error, "sink '" + st.stats.name + "': dropping spans (" + reason + "), " +
                                     std::to_string(st.stats.dropped[reason]) +
                                     " dropped for this reason so far");
  }
}

bool spool_has_records(worker_self self) {
  auto& st = self->state;
  return st.spool && st.spool->records_pending() > 0;
}

// Writes a batch to disk before its in-memory copy goes; without a spool, or
// with a full one, the spans are counted as dropped.
void to_spool(worker_self self, const batch_ptr& b) {
  auto& st = self->state;
  if (!st.spool) {
    drop(self, b->size(), "no_spool");
    return;
  }
  switch (st.spool->append(*b)) {
    case tracing::spool_result::ok:
      st.stats.spooled += b->size();
      break;
    case tracing::spool_result::full:
      drop(self, b->size(), "spool_full");
      break;
    case tracing::spool_result::io_error:
      drop(self, b->size(), "spool_io_error");
      break;
  }
  log_spool_warnings(self);
}

void spill_queue(worker_self self) {
  auto& st = self->state;
  while (!st.queue.empty()) {
    to_spool(self, st.queue.front());
    st.queued_spans -= st.queue.front()->size();
    st.queue.pop_front();
  }
}

// Everything received so far is delivered (or given up on and counted).
bool drained(worker_self self) {
  auto& st = self->state;
  return st.queue.empty() && st.in_flight.empty() && !st.replay_in_flight &&
         !spool_has_records(self);
}

void answer_waiters(worker_self self, bool all_delivered) {
  auto& st = self->state;
  for (auto& w : st.waiters) w.rp.deliver(all_delivered);
  st.waiters.clear();
}

void pump(worker_self self);

void enter_failing(worker_self self, const delivery_verdict& v) {
  auto& st = self->state;
  if (!st.failing) {
    st.backoff_ms = st.backoff_ms == 0
                        ? st.cfg.retry_initial_ms
                        : std::min<std::int64_t>(
                              st.cfg.retry_max_ms,
                              static_cast<std::int64_t>(st.backoff_ms * st.cfg.retry_multiplier));
    // Equal jitter: half fixed, half random, so a fleet of engines does not
    // retry in lockstep after a shared outage.
    std::uniform_int_distribution<std::int64_t> jitter(
        0, std::max<std::int64_t>(0, st.backoff_ms / 2));
    std::int64_t wait = st.backoff_ms - st.backoff_ms / 2 + jitter(st.rng);
    if (v.retry_after_ms) wait = std::min<std::int64_t>(*v.retry_after_ms, 3'600'000);
    st.failing = true;
    self->delayed_send(caf::actor_cast<http_worker_actor>(self), std::chrono::milliseconds(wait),
                       retry_atom::value);
    auto now = tracing::now_unix_ns();
    if (now - st.last_fail_log_ns > 10'000'000'000ULL) {
      st.last_fail_log_ns = now;
      st.cfg.log(log_level::warning, "sink '" + st.stats.name + "' failing (" + v.detail +
                                         "); retrying in " + std::to_string(wait) +
                                         " ms, spooling meanwhile");
    }
  }
  spill_queue(self);
}

void dead_letter(worker_self self, const net::http_request& req, std::size_t spans,
                 const delivery_verdict& v) {
  auto& st = self->state;
  ++st.stats.dead_lettered_batches;
  drop(self, spans, "rejected");
  // Why, at most once every 10 s: a misconfigured endpoint rejects
  // everything, and one line says what to fix.
  auto now = tracing::now_unix_ns();
  if (now - st.last_reject_log_ns > 10'000'000'000ULL) {
    st.last_reject_log_ns = now;
    st.cfg.log(log_level::error,
               "sink '" + st.stats.name + "': backend rejected a batch of " +
                   std::to_string(spans) + " spans (" + v.detail + ")" +
                   (st.dead_letters ? "; kept in the sink's dead-letter.jsonl" : ""));
  }
  if (!st.dead_letters) return;
  // One line per rejected batch: why, and the request body as it was sent
  // (when it is text), so that an operator can inspect it and resend it by
  // hand. Headers are left out, and the URL's userinfo: they carry
  // credentials.
  nlohmann::json line = {
      {"reason", v.detail}, {"spans", spans}, {"url", net::redact_userinfo(req.url)}};
  bool compressed = std::any_of(req.headers.begin(), req.headers.end(),
                                [](auto& h) { return h.first == "Content-Encoding"; });
  if (compressed) line["body_gzip_bytes"] = req.body.size();
  else line["body"] = req.body;
  if (auto err = st.dead_letters->write(std::move(line)); !err.empty())
    st.cfg.log(log_level::error, "sink '" + st.stats.name + "': dead letter not kept: " + err);
}

// Puts batches back at the head of the line (they were sent before what
// waits in the queue), or on disk when memory is at its bound.
void requeue_front(worker_self self, std::vector<batch_ptr> parts) {
  auto& st = self->state;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    auto n = (*it)->size();
    if (st.queued_spans + st.in_flight_spans + n <=
        static_cast<std::uint64_t>(st.cfg.max_queue_spans)) {
      st.queue.push_front(*it);
      st.queued_spans += n;
    } else {
      to_spool(self, *it);
    }
  }
}

// A 413: the batch goes again in two halves (and those in halves again if
// need be), so that only a span too large on its own is rejected.
void split_after_413(worker_self self, const batch_ptr& b, const delivery_verdict& v) {
  auto& st = self->state;
  auto half = b->begin() + static_cast<long>(b->size() / 2);
  // Built by push_back: GCC 12 reports a bogus -Wfree-nonheap-object for an
  // initializer list of shared_ptrs here.
  std::vector<batch_ptr> parts;
  parts.reserve(2);
  parts.push_back(std::make_shared<const std::vector<tracing::span_record>>(b->begin(), half));
  parts.push_back(std::make_shared<const std::vector<tracing::span_record>>(half, b->end()));
  ++st.stats.failed_batches;
  st.stats.retried += b->size();
  auto now = tracing::now_unix_ns();
  if (now - st.last_split_log_ns > 10'000'000'000ULL) {
    st.last_split_log_ns = now;
    st.cfg.log(log_level::warning, "sink '" + st.stats.name + "': backend refused a batch of " +
                                       std::to_string(b->size()) + " spans as too large (" +
                                       v.detail + "); sending it in halves");
  }
  requeue_front(self, std::move(parts));
}

void send(worker_self self, batch_ptr b, bool from_spool, tracing::spool_entry entry = {}) {
  auto& st = self->state;
  auto id = st.next_request++;
  if (from_spool) st.replay_in_flight = true;
  else {
    st.in_flight.emplace(id, b);
    st.in_flight_spans += b->size();
  }
  auto req = st.proto->make_request(*b);
  auto req_copy = req;  // judged together with the response
  // The http_client enforces the request's own timeout; the actor-level one
  // only guards against a client that cannot answer at all.
  auto guard = std::chrono::milliseconds(std::max<std::int64_t>(req.timeout_ms, 1000) + 5000);
  auto entry_ptr = std::make_shared<tracing::spool_entry>(std::move(entry));
  auto on_response = [=](net::http_response& r) {
    auto& st = self->state;
    auto v = st.proto->judge(req_copy, r, *b);
    // Transport messages may quote the URL; its userinfo never reaches a log.
    if (auto info = net::url_userinfo(req_copy.url); !info.empty())
      for (auto at = v.detail.find(info); at != std::string::npos; at = v.detail.find(info, at + 3))
        v.detail.replace(at, info.size(), "***");
    if (v.kind == delivery_verdict::too_large && b->size() < 2) {
      v.kind = delivery_verdict::reject;  // one span too large on its own
      v.detail += " (a single span)";
    }
    auto n = b->size();
    if (from_spool) st.replay_in_flight = false;
    else {
      st.in_flight.erase(id);
      st.in_flight_spans -= n;
    }
    switch (v.kind) {
      case delivery_verdict::delivered: {
        auto again = v.retry_spans.size();
        st.stats.exported += n - std::min<std::uint64_t>(n, v.rejected_spans + again);
        if (v.rejected_spans) {
          drop(self, std::min<std::uint64_t>(n, v.rejected_spans), "rejected_by_backend");
          st.cfg.log(log_level::error, "sink '" + st.stats.name + "': backend rejected " +
                                           std::to_string(v.rejected_spans) +
                                           " spans: " + v.detail);
        }
        if (from_spool) {
          st.stats.replayed += n;
          st.spool->ack(*entry_ptr);
        }
        if (again) {
          // Delivered in part: the rest waits on disk and goes again after a
          // backoff, like any failed batch.
          ++st.stats.failed_batches;
          st.stats.retried += again;
          to_spool(self, std::make_shared<const std::vector<tracing::span_record>>(
                             std::move(v.retry_spans)));
          enter_failing(self, v);
        } else {
          st.backoff_ms = 0;
        }
        break;
      }
      case delivery_verdict::retry:
        ++st.stats.failed_batches;
        st.stats.retried += n;
        if (!from_spool) to_spool(self, b);  // a spooled one is still on disk
        enter_failing(self, v);
        break;
      case delivery_verdict::reject:
        ++st.stats.failed_batches;
        dead_letter(self, req_copy, n, v);
        if (from_spool) st.spool->ack(*entry_ptr);
        break;
      case delivery_verdict::too_large:
        if (from_spool) st.spool->ack(*entry_ptr);  // its halves take its place
        split_after_413(self, b, v);
        break;
    }
    pump(self);
  };
  self->request(st.http, guard, std::move(req)).then(on_response, [=](caf::error& e) {
    net::http_response r;
    r.error = net::transport_error::other;
    r.error_message = "http client did not answer: " + caf::to_string(e);
    on_response(r);
  });
}

void pump(worker_self self) {
  auto& st = self->state;
  if (!st.failing) {
    if (spool_has_records(self)) {
      // Replay strictly oldest first, one record at a time: the spool is
      // what is left of an outage, and a recovering backend gets a trickle.
      if (!st.replay_in_flight && st.in_flight.empty()) {
        if (auto e = st.spool->peek()) {
          auto b = std::make_shared<const std::vector<tracing::span_record>>(std::move(e->spans));
          e->spans.clear();
          send(self, std::move(b), true, std::move(*e));
        }
        log_spool_warnings(self);
      }
    } else {
      while (!st.queue.empty() && static_cast<int>(st.in_flight.size()) < st.cfg.max_in_flight) {
        auto b = std::move(st.queue.front());
        st.queue.pop_front();
        st.queued_spans -= b->size();
        send(self, std::move(b), false);
      }
    }
  }
  if (!st.waiters.empty() && drained(self)) answer_waiters(self, true);
}

// Takes one batch into memory, or to disk when the sink is failing, replay is
// pending (order), or memory is at its bound.
void accept(worker_self self, batch_ptr b) {
  auto& st = self->state;
  auto n = b->size();
  if (st.failing || spool_has_records(self) ||
      st.queued_spans + st.in_flight_spans + n >
          static_cast<std::uint64_t>(st.cfg.max_queue_spans)) {
    to_spool(self, b);
  } else {
    st.queue.push_back(std::move(b));
    st.queued_spans += n;
  }
}

http_worker_actor::behavior_type http_worker(worker_self self,
                                             std::shared_ptr<http_sink_protocol> proto,
                                             net::http_client_actor http,
                                             const http_worker_config& cfg) {
  auto& st = self->state;
  st.proto = std::move(proto);
  st.http = std::move(http);
  st.cfg = cfg;
  st.stats.name = st.proto->name();
  if (!cfg.spool_dir.empty()) {
    // The dead letters take an eighth of the spool's budget, the segments
    // the rest, so the directory as a whole stays within spool_max_bytes.
    const std::uint64_t dead_letter_bytes = cfg.spool_max_bytes / 8;
    st.dead_letters = std::make_unique<dead_letter_file>(cfg.spool_dir, dead_letter_bytes);
    std::string err;
    tracing::spool_options so;
    so.max_bytes = cfg.spool_max_bytes - dead_letter_bytes;
    so.segment_bytes =
        std::min<std::uint64_t>(so.segment_bytes, std::max<std::uint64_t>(so.max_bytes / 4, 4096));
    st.spool = tracing::spool::open(cfg.spool_dir, so, &err);
    if (!st.spool)
      st.cfg.log(log_level::warning,
                 "sink '" + st.stats.name +
                     "': no spool, spans will be dropped while the backend is down: " + err);
    log_spool_warnings(self);
  }
  // Whatever an earlier process left in the spool goes out first.
  pump(self);
  return {
      [=](const span_batch& whole) -> std::uint64_t {
        auto& st = self->state;
        auto n = whole.spans->size();
        st.stats.received += n;
        auto parts = st.proto->split(*whole.spans);
        if (parts.empty()) {
          accept(self, whole.spans);
        } else {
          for (auto& p : parts)
            accept(self, std::make_shared<const std::vector<tracing::span_record>>(std::move(p)));
        }
        pump(self);
        return n;
      },
      [=](retry_atom) {
        self->state.failing = false;
        pump(self);
      },
      [=](flush_atom, std::int64_t deadline_ms) -> caf::result<bool> {
        auto& st = self->state;
        pump(self);
        if (drained(self)) return true;
        auto rp = self->make_response_promise<bool>();
        auto id = st.next_waiter++;
        st.waiters.push_back({rp, id});
        self->delayed_send(caf::actor_cast<http_worker_actor>(self),
                           std::chrono::milliseconds(deadline_ms), deadline_atom::value, id);
        return rp;
      },
      [=](deadline_atom, std::uint64_t id) {
        auto& st = self->state;
        bool waiting =
            std::any_of(st.waiters.begin(), st.waiters.end(), [&](auto& w) { return w.id == id; });
        if (!waiting) return;
        // Out of time: what is still in memory, or on the wire, goes to disk.
        // A request still in flight may yet succeed, which then delivers a
        // span twice: at least once is the promise, not exactly once.
        spill_queue(self);
        for (auto& [_, b] : st.in_flight) to_spool(self, b);
        if (st.spool) st.spool->sync();
        log_spool_warnings(self);
        answer_waiters(self, false);
      },
      [=](stats_atom) {
        auto& st = self->state;
        auto s = st.stats;
        s.queued = st.queued_spans + st.in_flight_spans;
        s.spool_bytes = st.spool ? st.spool->bytes() : 0;
        s.spool_records_damaged = st.spool ? st.spool->records_damaged() : 0;
        s.spool_bytes_quarantined = st.spool ? st.spool->bytes_quarantined() : 0;
        return s;
      },
  };
}

}  // namespace

sink_worker spawn_http_worker(caf::actor_system& sys, std::shared_ptr<http_sink_protocol> proto,
                              net::http_client_actor http_client, http_worker_config cfg) {
  return sys.spawn<caf::detached>(http_worker, std::move(proto), std::move(http_client), cfg);
}

}  // namespace weft::exporting
