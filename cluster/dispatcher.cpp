#include "cluster/dispatcher.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include "cluster/tls.hpp"

namespace weft::cluster {

namespace {

using connect_again_atom = caf::atom_constant<caf::atom("wConnect")>;
using beat_atom = caf::atom_constant<caf::atom("wBeat")>;
using clock = std::chrono::steady_clock;

/// A run (or a placed node) handed to the dispatcher by submit(). Local
/// only: the callback cannot cross a network, so inspect() carries the type
/// name alone.
struct submitted {
  node_request job;  // a top-level run: job.run alone
  bool node = false;
  dispatcher::done_fn done;
  dispatcher::event_fn on_event;  // an observed run's
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, submitted&) {
  return f(caf::meta::type_name("weft.cluster.submitted"));
}

enum class phase { connecting, connected, refused, lost };

const char* phase_name(phase p) {
  switch (p) {
    case phase::connecting:
      return "connecting";
    case phase::connected:
      return "connected";
    case phase::refused:
      return "refused";
    case phase::lost:
      return "lost";
  }
  return "?";
}

struct slot {
  endpoint at;
  phase ph = phase::connecting;
  caf::actor session;
  std::uint64_t generation = 0;  // a new one per session: late answers of an old one are ignored
  bool has_status = false;
  worker_status status;
  clock::time_point last_seen;
  std::set<std::uint64_t> tickets;  // runs on it now
  std::string last_error;
  std::string last_logged;  // the same failure is logged once, not every reconnect
};

struct pending {
  node_request job;  // a top-level run: job.run alone
  bool node = false;
  dispatcher::done_fn done;
  dispatcher::event_fn on_event;  // an observed run's
  bool events_seen = false;       // its observer has seen some: no retry then
  int worker = -1;                // -1: waiting in line
  std::string lost_on;            // retried: the first attempt's worker and why it was lost
};

struct state {
  dispatcher_config cfg;
  std::shared_ptr<std::atomic<int>> connected;
  std::vector<slot> slots;
  std::map<std::uint64_t, pending> runs;
  // observed_key(run id, node) -> ticket, for observed runs and nodes only.
  std::map<std::string, std::uint64_t> observed;
  // Tickets waiting for a worker with room, by line_of(): "" for runs.
  std::map<std::string, std::deque<std::uint64_t>> lines;
  std::uint64_t next_ticket = 0;
  std::size_t rr = 0;  // ties go round the workers
  bool stopping = false;
};

using self_t = caf::stateful_actor<state>*;

// `s`: a failure of that worker's, told once however often it repeats.
void note(self_t self, slot* s, const std::string& msg, bool problem = true) {
  auto& cfg = self->state.cfg;
  if (s) {
    if (s->last_logged == msg) return;
    s->last_logged = msg;
  }
  if (cfg.log) cfg.log(problem, msg);
}

// Where an observed request's events are routed: its run, and its node
// for a placed node (a run may have several placed nodes out at once).
std::string observed_key(const pending& p) {
  return p.job.run.run_id + '\n' + (p.node ? p.job.node : std::string());
}

void finish(self_t self, std::uint64_t ticket, run_reply r, dispatch_failure why) {
  auto& st = self->state;
  auto it = st.runs.find(ticket);
  if (it == st.runs.end()) return;
  auto p = std::move(it->second);
  st.runs.erase(it);
  if (p.on_event) st.observed.erase(observed_key(p));
  if (p.worker >= 0) st.slots[static_cast<std::size_t>(p.worker)].tickets.erase(ticket);
  if (r.run_id.empty()) r.run_id = p.job.run.run_id;
  if (r.trace_id.empty()) r.trace_id = p.job.run.trace.trace_id;
  // At-least-once made visible: the caller learns that its run started
  // twice, so side effects of the first attempt may have happened.
  if (!p.lost_on.empty())
    r.warning = "retried after worker lost: " + p.lost_on +
                (r.warning.empty() ? std::string() : "; " + r.warning);
  if (p.done) p.done(std::move(r), why);
}

void fail(self_t self, std::uint64_t ticket, dispatch_failure why, std::string error) {
  run_reply r;
  r.error = std::move(error);
  finish(self, ticket, std::move(r), why);
}

std::int64_t load_of(const slot& s) {
  // The worker's own count includes other fronts' runs; ours is fresher.
  const auto mine = static_cast<std::int64_t>(s.tickets.size());
  return std::max(mine, s.has_status ? s.status.in_flight : 0);
}

void drain_line(self_t self);
void lose(self_t self, std::size_t idx, const std::string& why);

void send_to(self_t self, std::uint64_t ticket, std::size_t idx) {
  auto& st = self->state;
  auto& p = st.runs.at(ticket);
  auto& s = st.slots[idx];
  p.worker = static_cast<int>(idx);
  s.tickets.insert(ticket);
  const auto gen = s.generation;
  auto sent = p.node ? self->request(s.session, caf::infinite, node_atom::value, p.job)
                     : self->request(s.session, caf::infinite, run_atom::value, p.job.run);
  sent.then(
      [self, ticket](run_reply& r) {
        finish(self, ticket, std::move(r), dispatch_failure::none);
        drain_line(self);
      },
      [self, idx, gen](caf::error& e) {
        // A session only fails a request when it is gone: the same as
        // its down message, whichever comes first.
        auto& sl = self->state.slots[idx];
        if (sl.generation != gen) return;
        lose(self, idx, "the run's request failed: " + self->system().render(e));
      });
}

bool has_tags(const worker_status& s, const std::vector<std::string>& want) {
  for (const auto& t : want)
    if (std::find(s.tags.begin(), s.tags.end(), t) == s.tags.end()) return false;
  return true;
}

std::string tag_list(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (const auto& t : tags) out += (out.size() > 1 ? ", " : "") + t;
  return out + "]";
}

// Where `p` can go now: a worker index, or -1 with `why` (and whether
// waiting could help: workers that run it exist but are full). A placed
// node goes only to workers with all of its tags.
int choose(self_t self, const pending& p, dispatch_failure& why, std::string& error, bool& wait) {
  auto& st = self->state;
  const auto& req = p.job.run;
  wait = false;
  int best = -1;
  std::int64_t best_load = 0;
  std::vector<std::string> other_hash, reachable, tagged;
  const std::size_t n = st.slots.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t i = (st.rr + k) % n;
    auto& s = st.slots[i];
    if (s.ph != phase::connected || !s.has_status || !s.status.ready) continue;
    reachable.push_back(s.at.to_string() + (p.node ? " " + tag_list(s.status.tags) : ""));
    if (p.node && !has_tags(s.status, p.job.tags)) continue;
    tagged.push_back(s.at.to_string());
    auto f = s.status.flows.find(req.flow);
    if (f == s.status.flows.end()) continue;
    if (f->second != req.flow_hash) {
      other_hash.push_back(s.at.to_string() + " has " + f->second);
      continue;
    }
    const auto load = load_of(s);
    if (s.status.max_in_flight > 0 && load >= s.status.max_in_flight) {
      wait = true;
      continue;
    }
    if (best < 0 || load < best_load) {
      best = static_cast<int>(i);
      best_load = load;
    }
  }
  if (best >= 0) {
    st.rr = (static_cast<std::size_t>(best) + 1) % n;
    return best;
  }
  if (wait) return -1;
  auto joined = [](const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (const auto& x : items) out += (out.empty() ? "" : sep) + x;
    return out;
  };
  if (!other_hash.empty()) {
    why = dispatch_failure::mismatch;
    error = "flow '" + req.flow + "' differs between this front (content hash " + req.flow_hash +
            ") and the workers (" + joined(other_hash, "; ") +
            "): deploy the same flow file to both";
    return -1;
  }
  why = dispatch_failure::no_worker;
  if (reachable.empty()) {
    std::string list;
    for (auto& s : st.slots)
      list += (list.empty() ? "" : "; ") + s.at.to_string() + " " + phase_name(s.ph) +
              (s.last_error.empty() ? "" : ": " + s.last_error);
    error = p.node ? "no worker with tags " + tag_list(p.job.tags) + ": none is reachable (" +
                         list + ")"
                   : "no worker reachable (" + list + ")";
  } else if (p.node && tagged.empty()) {
    error = "no worker with tags " + tag_list(p.job.tags) +
            " (connected: " + joined(reachable, ", ") + ")";
  } else if (p.node) {
    error = "no worker with tags " + tag_list(p.job.tags) + " runs flow '" + req.flow +
            "' (tagged: " + joined(tagged, ", ") + ")";
  } else {
    error = "no worker runs flow '" + req.flow + "' (connected: " + joined(reachable, ", ") + ")";
  }
  return -1;
}

// Which line a request waits in: top-level runs in one, placed nodes in
// one per set of tags, so that a node for a free gpu worker never waits
// behind runs that wait for full cpu workers (and the other way round).
std::string line_of(const pending& p) {
  if (!p.node) return {};
  std::string key = "\n";  // no tag is empty: never the runs' key
  for (const auto& t : p.job.tags) key += t + "\n";
  return key;
}

// Sends `ticket` on, puts it in its line (behind any already waiting), or
// answers it with why it cannot run.
void place(self_t self, std::uint64_t ticket) {
  auto& st = self->state;
  auto it = st.runs.find(ticket);
  if (it == st.runs.end()) return;
  it->second.worker = -1;
  dispatch_failure why = dispatch_failure::no_worker;
  std::string error;
  bool wait = false;
  const auto key = line_of(it->second);
  auto line = st.lines.find(key);
  const bool queued = line != st.lines.end() && !line->second.empty();
  const int idx = queued ? -1 : choose(self, it->second, why, error, wait);
  if (idx >= 0) send_to(self, ticket, static_cast<std::size_t>(idx));
  else if (wait || queued) st.lines[key].push_back(ticket);
  else fail(self, ticket, why, std::move(error));
}

// Moves requests from each line to workers with room, in order: in each
// line, the first one that still has to wait keeps those behind it waiting.
void drain_line(self_t self) {
  auto& st = self->state;
  for (auto l = st.lines.begin(); l != st.lines.end();) {
    auto& line = l->second;
    while (!line.empty()) {
      const auto ticket = line.front();
      auto it = st.runs.find(ticket);
      if (it == st.runs.end()) {
        line.pop_front();
        continue;
      }
      dispatch_failure why = dispatch_failure::no_worker;
      std::string error;
      bool wait = false;
      const int idx = choose(self, it->second, why, error, wait);
      if (idx < 0 && wait) break;
      line.pop_front();
      if (idx >= 0) send_to(self, ticket, static_cast<std::size_t>(idx));
      else fail(self, ticket, why, std::move(error));
    }
    // An empty line goes: tag sets come and go with the flows that run.
    l = line.empty() ? st.lines.erase(l) : std::next(l);
  }
}

void connect(self_t self, std::size_t idx);

void schedule_connect(self_t self, std::size_t idx) {
  auto& st = self->state;
  if (st.stopping) return;
  self->delayed_send(self, st.cfg.reconnect, connect_again_atom::value, idx);
}

void lose(self_t self, std::size_t idx, const std::string& why) {
  auto& st = self->state;
  auto& s = st.slots[idx];
  if (s.ph != phase::connected) return;
  s.ph = phase::lost;
  s.last_error = why;
  st.connected->fetch_sub(1);
  if (s.session) self->demonitor(s.session);
  s.session = caf::actor{};
  s.generation++;
  s.has_status = false;
  auto tickets = std::move(s.tickets);
  s.tickets.clear();
  note(self, nullptr,
       "worker " + s.at.to_string() + " lost (" + why + "): " + std::to_string(tickets.size()) +
           " run(s) on it" +
           (st.cfg.retry_lost_runs ? ", each retried once elsewhere" : " failed"));
  for (auto t : tickets) {
    auto it = st.runs.find(t);
    if (it == st.runs.end()) continue;
    it->second.worker = -1;
    // An observer that has seen events of the first attempt cannot take
    // them back: such a run fails rather than start over.
    if (st.cfg.retry_lost_runs && it->second.lost_on.empty() && !it->second.events_seen) {
      it->second.lost_on = s.at.to_string() + " (" + why + ")";
      place(self, t);
    } else {
      fail(self, t, dispatch_failure::worker_lost,
           "worker lost: " + s.at.to_string() + " (" + why + ")");
    }
  }
  drain_line(self);
  schedule_connect(self, idx);
}

void ask_status(self_t self, std::size_t idx) {
  auto& s = self->state.slots[idx];
  const auto gen = s.generation;
  self->request(s.session, self->state.cfg.heartbeat_timeout, status_atom::value)
      .then(
          [self, idx, gen](worker_status& ws) {
            auto& sl = self->state.slots[idx];
            if (sl.generation != gen || sl.ph != phase::connected) return;
            sl.status = std::move(ws);
            sl.has_status = true;
            sl.last_seen = clock::now();
            drain_line(self);
          },
          [self, idx, gen](caf::error& e) {
            auto& sl = self->state.slots[idx];
            if (sl.generation != gen) return;
            lose(self, idx, "no heartbeat answer: " + self->system().render(e));
          });
}

void connect(self_t self, std::size_t idx) {
  auto& st = self->state;
  if (st.stopping) return;
  auto& s = st.slots[idx];
  if (s.ph == phase::connected) return;
  s.ph = phase::connecting;
  const auto gen = ++s.generation;
  auto mm = connector(self->system());  // TLS when configured (cluster/tls.hpp)
  self->request(mm, std::chrono::seconds(10), caf::connect_atom::value, s.at.host, s.at.port)
      .then(
          [self, idx, gen](const caf::node_id&, caf::strong_actor_ptr& ptr,
                           const std::set<std::string>&) {
            auto& sl = self->state.slots[idx];
            if (sl.generation != gen) return;
            auto gate = caf::actor_cast<caf::actor>(ptr);
            if (!gate) {
              sl.ph = phase::lost;
              sl.last_error = "nothing is published there";
              note(self, &sl, "worker " + sl.at.to_string() + ": " + sl.last_error);
              schedule_connect(self, idx);
              return;
            }
            auto& cfg = self->state.cfg;
            self->request(gate, std::chrono::seconds(10), hello_atom::value,
                          cluster_protocol_version, cfg.key, cfg.name,
                          caf::actor_cast<caf::actor>(self))
                .then(
                    [self, idx, gen](hello_reply& hr, caf::actor& session) {
                      auto& sl = self->state.slots[idx];
                      if (sl.generation != gen) return;
                      if (!hr.ok || !session) {
                        sl.ph = phase::refused;
                        sl.last_error = hr.message.empty() ? "refused" : hr.message;
                        note(self, &sl, "worker " + sl.at.to_string() + ": " + sl.last_error);
                        schedule_connect(self, idx);
                        return;
                      }
                      sl.ph = phase::connected;
                      sl.session = session;
                      sl.last_error.clear();
                      sl.last_logged.clear();
                      sl.last_seen = clock::now();
                      self->monitor(session);
                      self->state.connected->fetch_add(1);
                      note(self, nullptr, "worker " + sl.at.to_string() + " connected", false);
                      ask_status(self, idx);
                    },
                    [self, idx, gen](caf::error& e) {
                      auto& sl = self->state.slots[idx];
                      if (sl.generation != gen) return;
                      sl.ph = phase::lost;
                      sl.last_error = "no answer to hello: " + self->system().render(e);
                      note(self, &sl, "worker " + sl.at.to_string() + ": " + sl.last_error);
                      schedule_connect(self, idx);
                    });
          },
          [self, idx, gen](caf::error& e) {
            auto& sl = self->state.slots[idx];
            if (sl.generation != gen) return;
            sl.ph = phase::lost;
            sl.last_error = "cannot connect: " + self->system().render(e);
            note(self, &sl, "worker " + sl.at.to_string() + ": " + sl.last_error);
            schedule_connect(self, idx);
          });
}

caf::behavior dispatch_actor(self_t self, dispatcher_config cfg,
                             std::shared_ptr<std::atomic<int>> connected) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.connected = std::move(connected);
  for (auto& w : st.cfg.workers) {
    slot s;
    s.at = w;
    st.slots.push_back(std::move(s));
  }
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (std::size_t i = 0; i < st.slots.size(); ++i)
      if (st.slots[i].session && st.slots[i].session.address() == dm.source)
        lose(self, i, "its session went down: " + to_string(dm.reason));
  });
  self->set_exit_handler([self](caf::exit_msg& em) {
    auto& st = self->state;
    st.stopping = true;
    std::vector<std::uint64_t> tickets;
    for (auto& [t, p] : st.runs) tickets.push_back(t);
    for (auto t : tickets) fail(self, t, dispatch_failure::stopped, "the engine is shut down");
    self->quit(em.reason);
  });
  for (std::size_t i = 0; i < st.slots.size(); ++i) connect(self, i);
  self->delayed_send(self, st.cfg.heartbeat, beat_atom::value);
  return {
      [self](submitted& s) {
        auto& st = self->state;
        const auto ticket = st.next_ticket++;
        pending p;
        p.job = std::move(s.job);
        p.node = s.node;
        p.done = std::move(s.done);
        p.on_event = std::move(s.on_event);
        if (p.on_event) st.observed[observed_key(p)] = ticket;
        st.runs.emplace(ticket, std::move(p));
        place(self, ticket);
      },
      // Stop a run or placed node sent earlier: on a worker, the worker
      // cancels it and its reply says so; still in line, it ends here.
      [self](stop_atom, const std::string& run_id, const std::string& node,
             const std::string& why) {
        auto& st = self->state;
        for (auto& [t, p] : st.runs) {
          if (p.job.run.run_id != run_id || (p.node ? p.job.node : std::string()) != node) continue;
          if (p.worker < 0) {
            fail(self, t, dispatch_failure::cancelled, why);  // invalidates p: leave now
          } else if (auto& s = st.slots[static_cast<std::size_t>(p.worker)]; s.session) {
            self->send(s.session, stop_atom::value, run_id, node, why);
          }
          return;
        }
      },
      // An observed run's (or placed node's) event, from its worker's
      // session, before its reply (the session forwards both in order).
      [self](event_atom, const std::string& run_id, const std::string& node, std::string& json) {
        auto& st = self->state;
        auto t = st.observed.find(run_id + '\n' + node);
        if (t == st.observed.end()) return;
        auto it = st.runs.find(t->second);
        if (it == st.runs.end() || it->second.worker < 0) return;
        it->second.events_seen = true;
        it->second.on_event(std::move(json));
      },
      [self](connect_again_atom, std::size_t idx) { connect(self, idx); },
      [self](beat_atom) {
        auto& st = self->state;
        const auto now = clock::now();
        for (std::size_t i = 0; i < st.slots.size(); ++i) {
          auto& s = st.slots[i];
          if (s.ph != phase::connected) continue;
          if (now - s.last_seen > st.cfg.heartbeat_timeout) {
            lose(self, i,
                 "no heartbeat for " + std::to_string(st.cfg.heartbeat_timeout.count()) + " ms");
            continue;
          }
          ask_status(self, i);
        }
        self->delayed_send(self, st.cfg.heartbeat, beat_atom::value);
      },
  };
}

}  // namespace

dispatcher::dispatcher(caf::actor_system& sys, dispatcher_config cfg)
    : sys_(sys), connected_(std::make_shared<std::atomic<int>>(0)) {
  actor_ = sys.spawn(dispatch_actor, std::move(cfg), connected_);
}

dispatcher::~dispatcher() { caf::anon_send_exit(actor_, caf::exit_reason::user_shutdown); }

void dispatcher::submit(run_request req, done_fn done, event_fn on_event) {
  submitted s;
  s.job.run = std::move(req);
  s.job.run.observed = static_cast<bool>(on_event);
  s.done = std::move(done);
  s.on_event = std::move(on_event);
  caf::anon_send(actor_, std::move(s));
}

void dispatcher::submit_node(node_request req, done_fn done, event_fn on_event) {
  submitted s;
  s.job = std::move(req);
  s.job.observed = static_cast<bool>(on_event);
  s.node = true;
  s.done = std::move(done);
  s.on_event = std::move(on_event);
  caf::anon_send(actor_, std::move(s));
}

void dispatcher::cancel(std::string run_id, std::string node, std::string why) {
  caf::anon_send(actor_, stop_atom::value, std::move(run_id), std::move(node), std::move(why));
}

bool dispatcher::wait_connected(int n, std::chrono::milliseconds timeout) const {
  const auto until = clock::now() + timeout;
  while (connected_->load() < n) {
    if (clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace weft::cluster
