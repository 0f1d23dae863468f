#include "net/http_client.hpp"

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "net/curl_worker.hpp"

namespace weft::net {
namespace {

// The worker thread's report that transfer `token` ended.
using http_done_atom = caf::atom_constant<caf::atom("wHttpDone")>;

struct http_client_state {
  std::unique_ptr<curl_worker> worker;
  std::unordered_map<std::uint64_t, caf::response_promise> pending;
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
  }
};

caf::behavior http_client(caf::stateful_actor<http_client_state>* self, http_client_config cfg) {
  // A weak reference: the thread must not keep its own actor alive. A pending
  // promise holds a strong one, so completions for live requests get through.
  caf::actor_addr me = self->address();
  self->state.worker = std::make_unique<curl_worker>(
      cfg, [me](std::uint64_t token, http_response r) {
        if (auto hdl = caf::actor_cast<caf::actor>(me))
          caf::anon_send(hdl, http_done_atom::value, token, std::move(r));
      });
  return {
      [=](http_request& req) -> caf::result<http_response> {
        auto& st = self->state;
        auto token = st.next_token++;
        auto rp = self->make_response_promise();
        st.pending.emplace(token, rp);
        st.worker->submit(token, std::move(req));
        return rp;
      },
      [=](http_done_atom, std::uint64_t token, http_response& r) {
        auto& st = self->state;
        auto it = st.pending.find(token);
        if (it == st.pending.end()) return;
        it->second.deliver(std::move(r));
        st.pending.erase(it);
      },
  };
}

}  // namespace

caf::actor spawn_http_client(caf::actor_system& sys, http_client_config cfg) {
  return sys.spawn(http_client, std::move(cfg));
}

}  // namespace weft::net
