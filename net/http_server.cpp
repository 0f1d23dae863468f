#include "net/http_server.hpp"

#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <caf/io/all.hpp>

namespace weft::net {

namespace {

using clock = std::chrono::steady_clock;
using reply_atom = caf::atom_constant<caf::atom("hReply")>;
using timer_atom = caf::atom_constant<caf::atom("hTimer")>;
using drain_atom = caf::atom_constant<caf::atom("hDrain")>;
using close_atom = caf::atom_constant<caf::atom("hClose")>;

void append_json_escaped(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

}  // namespace

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

struct http_server::shared {
  http_server_config cfg;
  request_handler handler;
  std::uint16_t port = 0;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  std::atomic<bool> draining{false};
  caf::actor acceptor;
  std::mutex mu;
  bool drained = false;
};

namespace {

using shared_ptr = std::shared_ptr<http_server::shared>;

// ---------------------------------------------------------------------------
// One connection.

struct answer {
  server_response response;
  bool keep_alive = true;
};

// What the connection must remember of a request until its answer is
// written: answers go out in request order, so a queue is enough.
struct pending_request {
  bool head = false;  // a HEAD answer carries the headers (Content-Length too) but no body
};

struct conn_state {
  shared_ptr sh;
  caf::io::connection_handle hdl;
  std::optional<request_parser> parser;
  std::string inbuf;               // bytes the parser has not consumed yet
  std::uint64_t next_seq = 0;      // number of the next request handed out
  std::uint64_t next_write = 0;    // number of the next answer to write
  std::map<std::uint64_t, answer> ready;  // answers waiting for earlier ones
  std::deque<pending_request> pending;    // one per outstanding request, in order
  std::size_t outstanding = 0;     // handed to the handler, not yet written
  bool closing = false;            // close once what is pending is written
  bool draining = false;
  bool awaiting_ack = false;       // written bytes not yet confirmed sent
  bool close_sent = false;         // the close is on its way (close_if_done)
  bool request_in_progress = false;
  bool input_done = false;         // a request without keep-alive was the last
  clock::time_point request_started;
  clock::time_point last_activity = clock::now();

  ~conn_state() {
    if (!sh) return;
    // Answers that will never be written no longer count as in flight.
    sh->in_flight -= outstanding;
    sh->connections--;
  }
};

using conn_broker = caf::io::stateful_broker<conn_state>;

void write_response(conn_broker* self, const server_response& r, bool keep_alive, bool head) {
  auto& st = self->state;
  auto bytes = encode_response(r, keep_alive && !r.close);
  if (head) bytes.resize(bytes.size() - r.body.size());  // the body is last on the wire
  self->write(st.hdl, bytes.size(), bytes.data());
  self->flush(st.hdl);
  if (st.draining) st.awaiting_ack = true;
  if (st.sh->cfg.on_response) st.sh->cfg.on_response(r.status);
  st.last_activity = clock::now();
}

// Closes once nothing is left to write (and, while draining, once the
// kernel took every byte, so that the answers really leave before exit).
// The close itself is a message to ourselves: this is often called from
// inside the scribe's own read or write callback, and closing the scribe
// there would free it under its caller.
void close_if_done(conn_broker* self) {
  auto& st = self->state;
  if (!st.closing || st.outstanding > 0 || st.awaiting_ack || st.close_sent) return;
  st.close_sent = true;
  self->send(self, close_atom::value);
}

void process_input(conn_broker* self);

void deliver(conn_broker* self, std::uint64_t seq, answer a) {
  auto& st = self->state;
  st.ready.emplace(seq, std::move(a));
  bool wrote = false;
  while (!st.ready.empty() && st.ready.begin()->first == st.next_write) {
    auto node = st.ready.extract(st.ready.begin());
    auto& ans = node.mapped();
    st.next_write++;
    st.outstanding--;
    st.sh->in_flight--;
    auto req = st.pending.front();
    st.pending.pop_front();
    if (st.closing) continue;  // an earlier answer ended the connection
    bool keep = ans.keep_alive && !ans.response.close && !st.draining;
    write_response(self, ans.response, keep, req.head);
    wrote = true;
    if (!keep) st.closing = true;
  }
  if (st.closing) {
    close_if_done(self);
    return;
  }
  if (wrote) process_input(self);  // the pipeline limit may have held input back
}

// Answers a request without the handler (parser errors, draining).
void answer_now(conn_broker* self, server_response r, bool keep_alive, bool head = false) {
  auto& st = self->state;
  st.pending.push_back({head});
  auto seq = st.next_seq++;
  st.outstanding++;
  st.sh->in_flight++;
  deliver(self, seq, answer{std::move(r), keep_alive});
}

void dispatch(conn_broker* self, server_request req) {
  auto& st = self->state;
  bool keep = req.keep_alive;
  bool head = req.method == "HEAD";
  if (st.sh->draining.load()) {
    auto r = json_error(503, "shutting_down", "the server is shutting down; retry on another instance");
    r.headers.emplace_back("Retry-After", "1");
    r.close = true;
    answer_now(self, std::move(r), false, head);
    return;
  }
  st.pending.push_back({head});
  auto seq = st.next_seq++;
  st.outstanding++;
  st.sh->in_flight++;
  auto conn = caf::actor_cast<caf::actor>(self);
  responder reply = [conn, seq, keep](server_response r) {
    caf::anon_send(conn, reply_atom::value, seq, keep, std::move(r));
  };
  try {
    st.sh->handler(std::move(req), std::move(reply));
  } catch (const std::exception& e) {
    // The handler broke its promise to answer; answer for it. A reply it
    // may still send for this seq is then ignored (the seq is written).
    deliver(self, seq, answer{json_error(500, "internal", e.what()), keep});
  }
}

void process_input(conn_broker* self) {
  auto& st = self->state;
  const auto& cfg = st.sh->cfg;
  while (!st.closing && st.outstanding < cfg.max_pipelined && !st.inbuf.empty()) {
    std::size_t consumed = 0;
    auto s = st.parser->feed(st.inbuf.data(), st.inbuf.size(), consumed);
    st.inbuf.erase(0, consumed);
    if (s == request_parser::state::need_more) break;
    if (s == request_parser::state::expect_continue) {
      // An interim answer must not overtake earlier final ones; with
      // answers pending the client just sends its body after its own wait.
      if (st.outstanding == 0) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        self->write(st.hdl, cont.size(), cont.data());
        self->flush(st.hdl);
      }
      continue;
    }
    if (s == request_parser::state::error) {
      const auto& e = st.parser->error();
      auto r = json_error(e.status, e.code, e.message);
      r.close = true;
      st.inbuf.clear();
      answer_now(self, std::move(r), false);
      return;
    }
    auto req = st.parser->take_request();
    bool last = !req.keep_alive;
    dispatch(self, std::move(req));
    if (last) {
      // The client said this request is its last; bytes after it are not
      // requests we will answer, so they must not start any work either.
      st.inbuf.clear();
      st.input_done = true;
      break;
    }
  }
  bool busy = !st.input_done && (st.parser->in_progress() || !st.inbuf.empty());
  if (busy && !st.request_in_progress) st.request_started = clock::now();
  st.request_in_progress = busy;
  // A client that keeps sending while its answers are held back by the
  // pipeline limit would otherwise grow this buffer without bound.
  if (st.inbuf.size() > cfg.limits.max_header_bytes + cfg.limits.max_body_bytes + 65536) {
    st.inbuf.clear();
    st.closing = true;
    close_if_done(self);
  }
}

// When the connection's current deadline is, if it has one.
std::optional<clock::time_point> deadline(conn_broker* self) {
  auto& st = self->state;
  if (st.closing || st.outstanding > 0) return std::nullopt;  // waiting on us
  if (st.request_in_progress) return st.request_started + st.sh->cfg.request_timeout;
  return st.last_activity + st.sh->cfg.idle_timeout;
}

// Timeouts are checked on the acceptor's sweep, not with a delayed message
// per connection: with CAF 0.17, a pending delayed message kept the broker
// it was addressed to alive, so every closed connection held ~2 KiB until
// its timer came due (measured: RSS grew linearly with connections served).
void on_timer(conn_broker* self) {
  auto& st = self->state;
  auto due = deadline(self);
  if (!due || clock::now() < *due) return;
  if (st.request_in_progress) {
    auto r = json_error(408, "request_timeout",
                        "the request did not arrive in full within " +
                            std::to_string(st.sh->cfg.request_timeout.count()) + " ms");
    r.close = true;
    st.inbuf.clear();
    answer_now(self, std::move(r), false);
  } else {
    st.closing = true;
    close_if_done(self);
  }
}

void start_draining(conn_broker* self) {
  auto& st = self->state;
  if (st.draining) return;
  st.draining = true;
  self->ack_writes(st.hdl, true);
  // An idle connection closes now; a busy one after its last answer.
  if (st.outstanding == 0 && !st.request_in_progress) st.closing = true;
  close_if_done(self);
}

caf::behavior connection(conn_broker* self, caf::io::connection_handle hdl, shared_ptr sh) {
  auto& st = self->state;
  st.sh = sh;
  st.hdl = hdl;
  st.parser.emplace(sh->cfg.limits);
  self->configure_read(hdl, caf::io::receive_policy::at_most(16 * 1024));
  if (sh->draining.load()) start_draining(self);
  return {
      [=](const caf::io::new_data_msg& msg) {
        auto& st = self->state;
        if (st.closing || st.input_done) return;  // the answer that closes is on its way
        st.inbuf.append(msg.buf.data(), msg.buf.size());
        process_input(self);
      },
      [=](reply_atom, std::uint64_t seq, bool keep, server_response& r) {
        if (seq < self->state.next_write || self->state.ready.count(seq)) return;  // answered already
        deliver(self, seq, answer{std::move(r), keep});
      },
      [=](timer_atom) { on_timer(self); },
      [=](const caf::io::data_transferred_msg& msg) {
        if (msg.remaining == 0) {
          self->state.awaiting_ack = false;
          close_if_done(self);
        }
      },
      [=](drain_atom) { start_draining(self); },
      [=](close_atom) {
        self->close(self->state.hdl);
        self->quit();
      },
      [=](const caf::io::connection_closed_msg&) {
        self->close_all();
        self->quit();
      },
  };
}

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

caf::behavior acceptor(acceptor_broker* self, shared_ptr sh, bind_promise bound) {
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
  self->set_down_handler([=](const caf::down_msg& m) {
    self->state.conns.erase(m.source);
  });
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
        auto c = self->fork(connection, msg.handle, st.sh);
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
  caf::anon_send(sh.acceptor, close_atom::value);
  // Connections closed by force still get a moment to leave the acceptor.
  auto grace = clock::now() + std::chrono::milliseconds(500);
  while (clock::now() < grace && sh.connections.load() > 0)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return clean;
}

}  // namespace weft::net
