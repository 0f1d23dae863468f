#include "cluster/worker_host.hpp"

#include "cluster/tls.hpp"

#include <utility>

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

namespace weft::cluster {

namespace {

// A run's end, from whatever thread finished it, back to its session.
using done_atom = caf::atom_constant<caf::atom("wDone")>;

struct host_shared {
  worker_host_config cfg;
  std::shared_ptr<worker_counters> counters;
  void log(const std::string& msg) const {
    if (cfg.log) cfg.log(msg);
  }
};

struct open_run {
  caf::typed_response_promise<run_reply> reply;
  std::function<void(std::string)> cancel;
  std::string key;  // run id and node: what a front's stop names
};

struct session_state {
  std::uint64_t next = 0;
  std::map<std::uint64_t, open_run> runs;
  std::map<std::string, std::uint64_t> by_key;
};

std::string key_of(const std::string& run_id, const std::string& node) {
  return run_id + '\n' + node;
}

worker_status status_of(const host_shared& h) {
  worker_status s;
  s.name = h.cfg.name;
  s.tags = h.cfg.tags;
  s.flows = h.cfg.flows;
  s.in_flight = h.counters->in_flight.load();
  s.max_in_flight = h.cfg.max_in_flight;
  s.runs_done = h.counters->runs_done.load();
  s.ready = h.counters->ready.load();
  return s;
}

// Where an observed run's (or placed node's) events go: through the
// session's mailbox to the front, the road its end takes too, so the front
// sees them in order and all of them before the reply.
std::function<void(std::string)> events_to(caf::stateful_actor<session_state>* self,
                                           const std::string& run_id, const std::string& node) {
  return [addr = self->address(), run_id, node](std::string json) {
    if (auto me = caf::actor_cast<caf::actor>(addr))
      caf::anon_send(me, event_atom::value, run_id, node, std::move(json));
  };
}

// One front's session. It lives as long as the front does: when the front's
// actor goes down (its process ended, or the connection broke), the runs it
// sent are cancelled, since nobody is left to take their answers.
caf::behavior session(caf::stateful_actor<session_state>* self,
                      const std::shared_ptr<host_shared>& host, const caf::actor& front,
                      const std::string& front_name) {
  host->counters->fronts++;
  self->attach_functor([host] { host->counters->fronts--; });
  self->monitor(front);
  self->set_down_handler([self, host, front_name](caf::down_msg& dm) {
    auto& st = self->state;
    host->log("front '" + front_name + "' is gone (" + to_string(dm.reason) + "): cancelling its " +
              std::to_string(st.runs.size()) + " run(s)");
    for (auto& [id, r] : st.runs)
      if (r.cancel) r.cancel("worker lost its front: '" + front_name + "' went away");
    st.runs.clear();
    st.by_key.clear();
    self->quit();
  });
  // Starts a run or a placed node through `start` (the host's run or
  // run_node) and answers its request when it ends.
  auto open = [self, host](const std::string& run_id, const std::string& node,
                           auto start) -> caf::result<run_reply> {
    if (!host->counters->ready.load()) {
      run_reply r;
      r.run_id = run_id;
      r.worker = host->cfg.name;
      r.error = "worker " + host->cfg.name + " is shutting down";
      return r;
    }
    auto& st = self->state;
    const auto id = st.next++;
    auto rp = self->make_response_promise<run_reply>();
    host->counters->in_flight++;
    auto addr = self->address();
    auto cancel = start([addr, id, host](run_reply r) {
      r.worker = host->cfg.name;
      host->counters->in_flight--;
      host->counters->runs_done++;
      if (auto me = caf::actor_cast<caf::actor>(addr))
        caf::anon_send(me, done_atom::value, id, std::move(r));
    });
    // Its end arrives as a message to this actor, after this entry exists.
    auto key = key_of(run_id, node);
    st.runs.emplace(id, open_run{rp, std::move(cancel), key});
    st.by_key[key] = id;
    return rp;
  };
  return {
      [self, open, host](run_atom, run_request& req) -> caf::result<run_reply> {
        auto run_id = req.run_id;
        auto on_event = req.observed ? events_to(self, run_id, {}) : nullptr;
        return open(run_id, std::string(), [&](std::function<void(run_reply)> done) {
          return host->cfg.run(std::move(req), std::move(on_event), std::move(done));
        });
      },
      [self, front](event_atom, std::string& run_id, std::string& node, std::string& json) {
        self->send(front, event_atom::value, std::move(run_id), std::move(node), std::move(json));
      },
      [self, open, host](node_atom, node_request& req) -> caf::result<run_reply> {
        auto run_id = req.run.run_id;
        auto node = req.node;
        if (!host->cfg.run_node) {
          run_reply r;
          r.run_id = run_id;
          r.worker = host->cfg.name;
          r.error = "worker " + host->cfg.name + " does not run placed nodes";
          return r;
        }
        auto on_event = req.observed ? events_to(self, run_id, node) : nullptr;
        return open(run_id, node, [&](std::function<void(run_reply)> done) {
          return host->cfg.run_node(std::move(req), std::move(on_event), std::move(done));
        });
      },
      [self](stop_atom, const std::string& run_id, const std::string& node,
             const std::string& why) {
        auto& st = self->state;
        auto k = st.by_key.find(key_of(run_id, node));
        if (k == st.by_key.end()) return;
        auto it = st.runs.find(k->second);
        if (it != st.runs.end() && it->second.cancel) it->second.cancel(why);
      },
      [self](done_atom, std::uint64_t id, run_reply& r) {
        auto& st = self->state;
        auto it = st.runs.find(id);
        if (it == st.runs.end()) return;
        it->second.reply.deliver(std::move(r));
        if (auto k = st.by_key.find(it->second.key); k != st.by_key.end() && k->second == id)
          st.by_key.erase(k);
        st.runs.erase(it);
      },
      [host](status_atom) { return status_of(*host); },
  };
}

caf::behavior gate(caf::event_based_actor* self, const std::shared_ptr<host_shared>& host) {
  return {
      [self, host](hello_atom, std::int32_t protocol, const std::string& key,
                   const std::string& front_name,
                   const caf::actor& front) -> caf::result<hello_reply, caf::actor> {
        hello_reply r;
        if (protocol != cluster_protocol_version) {
          host->counters->hellos_refused++;
          r.message = "protocol version " + std::to_string(protocol) + " from front '" +
                      front_name + "', but worker " + host->cfg.name + " speaks version " +
                      std::to_string(cluster_protocol_version) +
                      ": run the same weft release on fronts and workers";
          host->log("refused front '" + front_name + "': " + r.message);
          return {std::move(r), caf::actor{}};
        }
        if (!same_key(key, host->cfg.key)) {
          host->counters->hellos_refused++;
          r.message = "worker " + host->cfg.name +
                      " refused the cluster key: set WEFT_CLUSTER_KEY to the key the workers use";
          host->log("refused front '" + front_name + "': wrong cluster key");
          return {std::move(r), caf::actor{}};
        }
        if (!front) {
          r.message = "hello without a front actor";
          return {std::move(r), caf::actor{}};
        }
        r.ok = true;
        // Linked: when the gate stops (the worker shuts down), so do they.
        auto s = self->spawn<caf::linked>(session, host, front, front_name);
        return {std::move(r), std::move(s)};
      },
  };
}

}  // namespace

caf::actor spawn_gate(caf::actor_system& sys, worker_host_config cfg,
                      std::shared_ptr<worker_counters> counters) {
  auto host = std::make_shared<host_shared>();
  host->cfg = std::move(cfg);
  host->counters = std::move(counters);
  return sys.spawn(gate, std::move(host));
}

bool publish_gate(caf::actor_system& sys, const caf::actor& gate, const endpoint& at,
                  std::uint16_t& bound, std::string& why) {
  auto res = cluster::publish(sys, gate, at.port, at.host);
  if (!res) {
    why = "cannot listen on " + at.to_string() + ": " + sys.render(res.error());
    return false;
  }
  bound = *res;
  return true;
}

}  // namespace weft::cluster
