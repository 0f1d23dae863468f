#include "net/http_client.hpp"

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>
#include <utility>

#include "net/curl_worker.hpp"

namespace weft::net {
namespace {

// A request of the (http_start_atom, ...) form: who gets its messages.
struct stream_target {
  caf::actor to;
  std::uint64_t tag = 0;
};

struct http_client_state {
  std::unique_ptr<curl_worker> worker;
  std::unordered_map<std::uint64_t, caf::typed_response_promise<http_response>> pending;
  std::unordered_map<std::uint64_t, stream_target> streams;
  // (receiver, its tag) -> token, to find what an abort names.
  std::map<std::pair<caf::actor_addr, std::uint64_t>, std::uint64_t> by_tag;
  std::uint64_t next_token = 1;
  static inline const char* name = "weft.http_client";

  // Runs when the actor exits (CAF destroys the state in on_exit).
  ~http_client_state() {
    // Stop the thread first, so that no completion races the answers below.
    worker.reset();
    for (auto& [token, rp] : pending) {
      http_response r;
      r.error = transport_error::other;
      r.error_message = "http client shut down";
      rp.deliver(std::move(r));
    }
    for (auto& [token, s] : streams) {
      http_response r;
      r.error = transport_error::aborted;
      r.error_message = "http client shut down";
      caf::anon_send(s.to, http_result_atom::value, s.tag, std::move(r));
    }
  }
};

http_client_actor::behavior_type http_client(
    http_client_actor::stateful_pointer<http_client_state> self, const http_client_config& cfg) {
  // A weak reference: the thread must not keep its own actor alive. A pending
  // promise holds a strong one, so completions for live requests get through.
  caf::actor_addr me = self->address();
  self->state.worker =
      std::make_unique<curl_worker>(cfg, [me](std::uint64_t token, http_response r) {
        if (auto hdl = caf::actor_cast<http_client_actor>(me))
          caf::anon_send(hdl, http_done_atom::value, token, std::move(r));
      });
  return {
      [=](http_request& req) -> caf::result<http_response> {
        auto& st = self->state;
        auto token = st.next_token++;
        auto rp = self->make_response_promise<http_response>();
        st.pending.emplace(token, rp);
        st.worker->submit(token, std::move(req));
        return rp;
      },
      [=](http_start_atom, caf::actor& to, std::uint64_t tag, bool stream, http_request& req) {
        auto& st = self->state;
        if (!to) return;
        auto token = st.next_token++;
        auto key = std::make_pair(to.address(), tag);
        if (auto old = st.by_tag.find(key); old != st.by_tag.end()) {
          // A reused tag replaces its predecessor, which is aborted: the
          // receiver could not tell their messages apart.
          st.streams.erase(old->second);
          st.worker->abort(old->second);
          st.by_tag.erase(old);
        }
        st.by_tag.emplace(key, token);
        curl_worker::chunk_fn on_chunk;
        if (stream)
          // Straight from the worker thread to the receiver: chunks skip
          // this actor, and still precede the result, which the worker
          // reports (through here) only after its last chunk was sent.
          on_chunk = [to, tag](http_chunk c) {
            caf::anon_send(to, http_chunk_atom::value, tag, std::move(c));
          };
        st.streams.emplace(token, stream_target{std::move(to), tag});
        st.worker->submit(token, std::move(req), std::move(on_chunk));
      },
      [=](http_abort_atom, const caf::actor& to, std::uint64_t tag) {
        auto& st = self->state;
        if (!to) return;
        auto it = st.by_tag.find(std::make_pair(to.address(), tag));
        if (it == st.by_tag.end()) return;  // answered already, or never started
        st.worker->abort(it->second);
        st.streams.erase(it->second);
        st.by_tag.erase(it);
      },
      [=](http_done_atom, std::uint64_t token, http_response& r) {
        auto& st = self->state;
        if (auto it = st.pending.find(token); it != st.pending.end()) {
          it->second.deliver(std::move(r));
          st.pending.erase(it);
          return;
        }
        auto s = st.streams.find(token);
        if (s == st.streams.end()) return;  // aborted meanwhile
        caf::anon_send(s->second.to, http_result_atom::value, s->second.tag, std::move(r));
        st.by_tag.erase(std::make_pair(s->second.to.address(), s->second.tag));
        st.streams.erase(s);
      },
  };
}

}  // namespace

http_client_actor spawn_http_client(caf::actor_system& sys, http_client_config cfg) {
  return sys.spawn(http_client, std::move(cfg));
}

}  // namespace weft::net
