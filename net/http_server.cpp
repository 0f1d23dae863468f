#include "net/http_server.hpp"

#include <algorithm>
#include <future>
#include <set>
#include <thread>

#include "net/http_server_shared.hpp"
#include "net/json_text.hpp"

namespace weft::net {

server_response json_error(int status, std::string_view code, std::string_view message,
                           std::string_view details_json) {
  server_response r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = "{\"error\":{\"code\":\"";
  append_json_escaped(r.body, code);
  r.body += "\",\"message\":\"";
  append_json_escaped(r.body, message);
  r.body += "\",\"details\":";
  r.body += details_json.empty() ? std::string_view("[]") : details_json;
  r.body += "}}";
  return r;
}

namespace {

using namespace detail;
using clock = server_clock;
using shared_ptr = server_shared_ptr;

// ---------------------------------------------------------------------------
// The acceptor.

struct acceptor_state {
  shared_ptr sh;
  caf::io::accept_handle listener;
  // Weak: the acceptor must not keep a closed connection's broker alive.
  std::set<caf::actor_addr> conns;
};

using acceptor_broker = caf::io::stateful_broker<acceptor_state>;

// How often the acceptor asks every connection to check its timeouts: fine
// enough for the shortest timeout, never more often than 20 times a second
// nor less than once (each sweep is one message per connection).
std::chrono::milliseconds sweep_period(const http_server_config& cfg) {
  auto period = std::min(cfg.request_timeout, cfg.idle_timeout) / 4;
  return std::clamp(period, std::chrono::milliseconds(50), std::chrono::milliseconds(1000));
}
using bind_promise = std::shared_ptr<std::promise<caf::expected<std::uint16_t>>>;

caf::behavior acceptor(acceptor_broker* self, const shared_ptr& sh, const bind_promise& bound) {
  self->state.sh = sh;
  auto res = self->add_tcp_doorman(sh->cfg.port, sh->cfg.host.c_str(), true);
  if (!res) {
    bound->set_value(res.error());
    self->quit();
    return {};
  }
  self->state.listener = res->first;
  bound->set_value(res->second);
  self->delayed_send(self, sweep_period(sh->cfg), timer_atom::value);
  self->set_down_handler([=](const caf::down_msg& m) { self->state.conns.erase(m.source); });
  return {
      [=](const caf::io::new_connection_msg& msg) {
        auto& st = self->state;
        if (st.sh->connections.load() >= st.sh->cfg.max_connections) {
          auto r = json_error(503, "too_many_connections",
                              "the server holds its maximum of " +
                                  std::to_string(st.sh->cfg.max_connections) +
                                  " connections (--max-connections)");
          r.headers.emplace_back("Retry-After", "1");
          auto bytes = encode_response(r, false);
          self->write(msg.handle, bytes.size(), bytes.data());
          self->flush(msg.handle);
          self->close(msg.handle);
          if (st.sh->cfg.on_response) st.sh->cfg.on_response(503);
          return;
        }
        st.sh->connections++;
        auto c = fork_connection(self, msg.handle, st.sh);
        self->monitor(c);
        st.conns.insert(c.address());
      },
      [=](drain_atom) {
        self->close(self->state.listener);
        for (auto& c : self->state.conns)
          if (auto a = caf::actor_cast<caf::actor>(c)) self->send(a, drain_atom::value);
      },
      [=](close_atom) {
        for (auto& c : self->state.conns)
          if (auto a = caf::actor_cast<caf::actor>(c)) self->send(a, close_atom::value);
        self->quit();
      },
      [=](timer_atom) {
        for (auto& c : self->state.conns)
          if (auto a = caf::actor_cast<caf::actor>(c)) self->send(a, timer_atom::value);
        self->delayed_send(self, sweep_period(self->state.sh->cfg), timer_atom::value);
      },
      [=](const caf::io::acceptor_closed_msg&) {},
  };
}

}  // namespace

http_server::http_server(std::shared_ptr<shared> s) : shared_(std::move(s)) {}

http_server::~http_server() { drain(std::chrono::milliseconds(0)); }

caf::expected<std::unique_ptr<http_server>> http_server::start(caf::actor_system& sys,
                                                               http_server_config cfg,
                                                               request_handler handler) {
  auto sh = std::make_shared<shared>();
  sh->cfg = std::move(cfg);
  sh->handler = std::move(handler);
  auto bound = std::make_shared<std::promise<caf::expected<std::uint16_t>>>();
  auto fut = bound->get_future();
  sh->acceptor = sys.middleman().spawn_broker(acceptor, sh, bound);
  auto port = fut.get();
  if (!port) return port.error();
  sh->port = *port;
  return std::unique_ptr<http_server>(new http_server(sh));
}

std::uint16_t http_server::port() const { return shared_->port; }
std::size_t http_server::connections() const { return shared_->connections.load(); }
std::size_t http_server::requests_in_flight() const { return shared_->in_flight.load(); }

bool http_server::drain(std::chrono::milliseconds deadline) {
  auto& sh = *shared_;
  std::lock_guard<std::mutex> lk(sh.mu);
  if (sh.drained) return true;
  sh.drained = true;
  sh.draining = true;
  caf::anon_send(sh.acceptor, drain_atom::value);
  auto until = clock::now() + deadline;
  // Polling is fine here: this runs once, on a thread of the caller's.
  while (clock::now() < until && (sh.in_flight.load() > 0 || sh.connections.load() > 0))
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  bool clean = sh.in_flight.load() == 0;
  // Past the deadline every connection left is reset, whatever it still
  // owes or is owed: a client that stopped reading must not keep the
  // process from exiting (CAF's multiplexer runs until its sockets are done).
  caf::anon_send(sh.acceptor, close_atom::value);
  auto grace = clock::now() + std::chrono::milliseconds(500);
  while (clock::now() < grace && sh.connections.load() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return clean;
}

std::size_t http_server::buffered_bytes() const { return shared_->buffered.load(); }
std::uint64_t http_server::answers_dropped() const { return shared_->answers_dropped.load(); }
std::uint64_t http_server::forced_closes() const { return shared_->forced_closes.load(); }
std::uint64_t http_server::busy_refusals() const { return shared_->busy_refusals.load(); }
std::uint64_t http_server::stream_overflows() const { return shared_->stream_overflows.load(); }

}  // namespace weft::net
