// One HTTP connection as a CAF broker: bytes in, requests to the handler,
// answers out in request order. See net/http_server.hpp for the behaviour a
// client sees; this file is about how the broker keeps its memory bounded
// and never strands an answer.
//
// Flow control. A connection reads only while it can use what it reads:
// fewer than max_pipelined answers outstanding, and no more than
// max_output_buffer_bytes of answers that the kernel has not taken yet
// (counted from CAF's write acknowledgements). Otherwise its socket is taken
// out of the read set, so a client that pipelines without reading meets TCP
// backpressure instead of filling the server's memory.
//
// Why reading is stopped only inside new_data. CAF 0.17 applies a scribe's
// halt()/trigger() as deferred epoll changes at the end of a poll batch, and
// its stream ignores an activate() while a deferred removal is still pending.
// A halt and a trigger inside the same batch can therefore leave the socket
// out of the read set while the broker believes it is reading. Halting only
// from new_data (the socket is in the read set then, so no trigger of the
// same batch can precede it) rules out the unrecoverable order; the other
// order (halt, then trigger in the same batch) is repaired by the acceptor's
// sweep, which triggers every connection that should be reading (a no-op on
// a socket that is).
//
// A peer's FIN. CAF reports a read of end-of-file as connection_closed and
// detaches the scribe, so the broker can no longer write to it. A client
// that sends its requests and then shuts down its write side still expects
// the answers, so the broker duplicates the socket and keeps answering on a
// write-only scribe, then closes.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <map>
#include <optional>

#include "net/http_server_shared.hpp"

namespace weft::net {

struct stream_writer::shared {
  caf::actor_addr conn;  // the connection's broker (weak: the stream does not keep it)
  std::uint64_t seq = 0;
  stream_options opts;  // on_close is the broker's to call
  std::atomic<bool> closed{false};
  // Bytes written but not yet taken by the broker: they sit in its mailbox.
  // A producer faster than the broker could otherwise queue without bound
  // there, before the broker's own cap ever sees them.
  std::atomic<std::size_t> queued{0};
  // The producer got a full cap ahead of the broker: the stream is cut.
  std::atomic<bool> overran{false};
  // on_close was called (at most once, whoever ends the stream).
  std::atomic<bool> reported{false};
};

}  // namespace weft::net

namespace weft::net::detail {

namespace {

using clock = server_clock;
using finish_atom = caf::atom_constant<caf::atom("hFinish")>;

using chunk_atom = caf::atom_constant<caf::atom("hChunk")>;
using stream_start_atom = caf::atom_constant<caf::atom("hStream")>;
using stream_done_atom = caf::atom_constant<caf::atom("hStrEnd")>;

// A stream's shared state, in the message that starts it.
struct stream_ref {
  std::shared_ptr<stream_writer::shared> sh;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, stream_ref&) {
  return f(caf::meta::type_name("stream_ref"));
}

struct answer {
  server_response response;
  bool keep_alive = true;
  bool stream = false;  // response is the head of a streamed answer
};

// A streamed answer's state on its connection.
struct stream_state {
  std::shared_ptr<stream_writer::shared> sh;
  std::string waiting;       // framed chunks not yet handed to the socket
  std::size_t reserved = 0;  // `waiting` held against the process budget
  bool ended = false;        // no more chunks: the producer ended it, or it overflowed
  bool head_written = false;
  bool keep_alive = true;  // what its head told the client
};

// What the connection must remember of a request until its answer is
// written: answers go out in request order, so a queue is enough.
struct pending_request {
  bool head = false;         // a HEAD answer carries the headers but no body
  std::size_t reserved = 0;  // body bytes held against the process budget
};

struct conn_state {
  server_shared_ptr sh;
  caf::io::connection_handle hdl;
  std::optional<request_parser> parser;
  std::string inbuf;                              // bytes the parser has not consumed yet
  std::uint64_t next_seq = 0;                     // number of the next request handed out
  std::uint64_t next_write = 0;                   // number of the next answer to write
  std::map<std::uint64_t, answer> ready;          // answers waiting for earlier ones
  std::map<std::uint64_t, stream_state> streams;  // streamed answers not finished
  std::deque<pending_request> pending;            // one per outstanding request, in order
  std::size_t outstanding = 0;                    // handed out, answer not yet written
  std::size_t unsent = 0;                         // answer bytes the kernel has not taken yet
  std::size_t body_reserved = 0;                  // admitted for the request being parsed
  bool reading = true;                            // the socket is (believed) in the read set
  bool closing = false;                           // close once everything owed is sent
  bool answered_last = false;                     // an answer said "Connection: close"
  bool draining = false;
  bool close_sent = false;  // the finish message is on its way
  bool request_in_progress = false;
  bool input_done = false;   // no further request will be read
  bool peer_closed = false;  // FIN seen: answering on a write-only duplicate
  clock::time_point request_started;
  clock::time_point last_activity = clock::now();
  clock::time_point last_progress = clock::now();  // the kernel last took our bytes

  ~conn_state() {
    if (!sh) return;
    // Answers that will never be written no longer count as in flight, and
    // they are counted: an executed run either got its answer or shows here.
    sh->in_flight -= outstanding;
    if (outstanding > 0) sh->answers_dropped += outstanding;
    std::size_t held = unsent + body_reserved;
    for (auto& p : pending) held += p.reserved;
    // Streams that did not finish: their producers hear that the client is
    // gone (a stream already ended by its producer is left alone).
    for (auto& [seq, ss] : streams) {
      held += ss.reserved;
      if (ss.sh && !ss.sh->closed.exchange(true) && !ss.sh->reported.exchange(true) &&
          ss.sh->opts.on_close)
        ss.sh->opts.on_close(stream_end::disconnected);
    }
    sh->release(held);
    sh->connections--;
  }
};

using conn_broker = caf::io::stateful_broker<conn_state>;

}  // namespace
}  // namespace weft::net::detail

namespace weft::net {

// The sending end, as messages to the connection's broker.
bool stream_writer::write(std::string bytes) const {
  if (!s_ || s_->closed.load(std::memory_order_acquire) || s_->overran.load()) return false;
  auto conn = caf::actor_cast<caf::actor>(s_->conn);
  if (!conn) return false;
  const auto n = bytes.size();
  if (s_->queued.fetch_add(n) + n > s_->opts.max_buffered_bytes) {
    // A cap ahead of the broker: refused here, and the broker is woken (an
    // empty chunk) to cut the stream, since it may have nothing else queued.
    s_->queued.fetch_sub(n);
    if (!s_->overran.exchange(true))
      caf::anon_send(conn, detail::chunk_atom::value, s_->seq, std::string{});
    return false;
  }
  caf::anon_send(conn, detail::chunk_atom::value, s_->seq, std::move(bytes));
  return true;
}

void stream_writer::end() const {
  if (!s_ || s_->closed.exchange(true)) return;
  if (auto conn = caf::actor_cast<caf::actor>(s_->conn))
    caf::anon_send(conn, detail::stream_done_atom::value, s_->seq);
}

bool stream_writer::closed() const { return !s_ || s_->closed.load(std::memory_order_acquire); }

stream_writer responder::stream(server_response head, stream_options opts) const {
  if (stream_) return stream_(std::move(head), std::move(opts));
  (*this)(std::move(head));
  auto s = std::make_shared<stream_writer::shared>();
  s->closed = true;
  return stream_writer::make(std::move(s));
}

}  // namespace weft::net

namespace weft::net::detail {
namespace {

void write_bytes(conn_broker* self, std::string_view bytes) {
  auto& st = self->state;
  self->write(st.hdl, bytes.size(), bytes.data());
  self->flush(st.hdl);
  if (st.unsent == 0) st.last_progress = clock::now();  // a new wait for the reader starts
  st.unsent += bytes.size();
  st.sh->buffered.fetch_add(bytes.size(), std::memory_order_relaxed);
}

void write_response(conn_broker* self, const server_response& r, bool keep_alive, bool head) {
  auto& st = self->state;
  auto bytes = encode_response(r, keep_alive && !r.close);
  if (head) bytes.resize(bytes.size() - r.body.size());  // the body is last on the wire
  write_bytes(self, bytes);
  if (st.sh->cfg.on_response) st.sh->cfg.on_response(r.status);
  st.last_activity = clock::now();
}

// Closes once every answer owed is written and taken by the kernel, so a
// close never discards an answer. The close itself is a message to
// ourselves: this often runs inside the scribe's own callbacks, and closing
// the scribe there would free it under its caller.
void close_if_done(conn_broker* self) {
  auto& st = self->state;
  if (!st.closing || st.close_sent || st.outstanding > 0 || st.unsent > 0) return;
  st.close_sent = true;
  self->send(self, finish_atom::value);
}

// Past every deadline: the socket is reset (SO_LINGER 0), which also fails
// the stream's pending writes, so that CAF's multiplexer, which runs until
// every socket it watches is done, is not held by a client that never reads.
void force_close(conn_broker* self) {
  auto& st = self->state;
  auto fd = static_cast<int>(st.hdl.id());
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::shutdown(fd, SHUT_RDWR);
  st.sh->forced_closes++;
  self->close_all();
  self->quit();
}

bool wants_input(const conn_state& st) {
  return !st.closing && !st.input_done && !st.peer_closed &&
         st.outstanding < st.sh->cfg.max_pipelined &&
         st.unsent <= st.sh->cfg.max_output_buffer_bytes;
}

// Puts the socket in or out of the read set to match wants_input(). Only
// the new_data handler may take it out (see the comment at the top).
void update_reading(conn_broker* self, bool may_halt) {
  auto& st = self->state;
  bool want = wants_input(st);
  if (want && !st.reading) {
    self->trigger(st.hdl);
    st.reading = true;
  } else if (!want && st.reading && may_halt && !st.closing && !st.peer_closed) {
    self->halt(st.hdl);
    st.reading = false;
  }
}

void process_input(conn_broker* self);

// Everything that may follow an event: parse what became parseable, decide
// whether to read, and close when done.
void pump(conn_broker* self, bool may_halt) {
  auto& st = self->state;
  process_input(self);
  // After the peer's FIN nothing more arrives: once the requests it sent
  // are answered (and none is left to parse), the connection is done.
  if (st.peer_closed && st.outstanding == 0 && st.unsent <= st.sh->cfg.max_output_buffer_bytes)
    st.closing = true;
  update_reading(self, may_halt);
  close_if_done(self);
}

// Hands a stream's waiting chunks to the socket.
void flush_stream(conn_broker* self, stream_state& ss) {
  auto& st = self->state;
  if (ss.waiting.empty()) return;
  write_bytes(self, ss.waiting);
  st.sh->release(ss.reserved);
  ss.reserved = 0;
  ss.waiting.clear();
}

// Writes the answers that are next in request order. A streamed answer
// holds its place until it ends: answers after it wait.
void write_ready(conn_broker* self) {
  auto& st = self->state;
  while (!st.ready.empty() && st.ready.begin()->first == st.next_write) {
    auto it = st.ready.begin();
    const auto seq = it->first;
    auto& ans = it->second;
    const auto req = st.pending.front();
    // While draining, the connection stays open until the last answer owed
    // is out; that one says "Connection: close".
    bool keep = ans.keep_alive && !ans.response.close && !(st.draining && st.outstanding == 1);
    // Requests after one we said was the last are not answered (only 503s
    // of a drain or requests behind a framing error can be here).
    if (ans.stream) {
      auto sit = st.streams.find(seq);
      if (!st.answered_last && sit != st.streams.end()) {
        auto& ss = sit->second;
        if (!ss.head_written) {
          ss.head_written = true;
          ss.keep_alive = keep;
          write_bytes(self, encode_stream_head(ans.response, keep));
          if (st.sh->cfg.on_response) st.sh->cfg.on_response(ans.response.status);
          st.last_activity = clock::now();
          if (req.head) {  // a HEAD answer has no body to stream
            st.sh->release(ss.reserved);
            ss.reserved = 0;
            ss.waiting.clear();
            ss.ended = true;
            ss.sh->closed = true;
          }
        }
        keep = ss.keep_alive;
        if (!req.head) flush_stream(self, ss);
        if (!ss.ended) return;  // more to come
        if (!req.head) write_bytes(self, last_chunk);
      } else if (sit != st.streams.end()) {
        sit->second.sh->closed = true;
      }
      if (sit != st.streams.end()) {
        st.sh->release(sit->second.reserved);
        st.streams.erase(sit);
      }
    } else if (!st.answered_last) {
      write_response(self, ans.response, keep, req.head);
    }
    const bool was_last = st.answered_last;
    st.ready.erase(it);
    st.next_write++;
    st.outstanding--;
    st.sh->in_flight--;
    st.pending.pop_front();
    st.sh->release(req.reserved);
    if (!was_last && !keep) {
      st.answered_last = true;
      st.closing = true;
      st.input_done = true;
    }
  }
}

void deliver(conn_broker* self, std::uint64_t seq, answer a) {
  self->state.ready.emplace(seq, std::move(a));
  write_ready(self);
}

// A chunk from a stream's producer: held until the stream's head is out,
// and cut short when the client falls too far behind.
// `written` says the bytes came through stream_writer::write (and were
// counted as queued there); the head's body did not.
void on_chunk(conn_broker* self, std::uint64_t seq, std::string& bytes, bool written = true) {
  auto& st = self->state;
  auto it = st.streams.find(seq);
  if (it == st.streams.end()) return;
  auto& ss = it->second;
  if (written) ss.sh->queued.fetch_sub(bytes.size());
  if (ss.ended) return;
  std::string framed;
  append_chunk(framed, bytes);
  const bool overran = ss.sh->overran.load();
  if (framed.empty() && !overran) return;
  const std::size_t behind = ss.reserved + (ss.head_written ? st.unsent : 0);
  if (overran || behind + framed.size() > ss.sh->opts.max_buffered_bytes ||
      !st.sh->reserve(framed.size())) {
    // Past the cap: the producer's last words, then the end of the body.
    // Reported even when the producer has already ended the stream: the
    // bytes it wrote last are not what the client gets.
    std::string tail;
    append_chunk(tail, ss.sh->opts.overflow_tail);
    st.sh->buffered.fetch_add(tail.size(), std::memory_order_relaxed);
    ss.reserved += tail.size();
    ss.waiting += tail;
    ss.ended = true;
    st.sh->stream_overflows++;
    ss.sh->closed = true;
    if (!ss.sh->reported.exchange(true) && ss.sh->opts.on_close)
      ss.sh->opts.on_close(stream_end::overflow);
  } else {
    ss.waiting += framed;
    ss.reserved += framed.size();
  }
  if (ss.head_written) write_ready(self);
}

// Answers a request without the handler (parser errors, draining).
void answer_now(conn_broker* self, server_response r, bool keep_alive, bool head = false) {
  auto& st = self->state;
  st.pending.push_back({head, 0});
  auto seq = st.next_seq++;
  st.outstanding++;
  st.sh->in_flight++;
  deliver(self, seq, answer{std::move(r), keep_alive});
}

void dispatch(conn_broker* self, server_request req) {
  auto& st = self->state;
  bool keep = req.keep_alive;
  bool head = req.method == "HEAD";
  auto reserved = std::exchange(st.body_reserved, 0);
  if (st.sh->draining.load()) {
    st.sh->release(reserved);
    auto r =
        json_error(503, "shutting_down", "the server is shutting down; retry on another instance");
    r.headers.emplace_back("Retry-After", "1");
    r.close = true;
    answer_now(self, std::move(r), false, head);
    return;
  }
  st.pending.push_back({head, reserved});
  auto seq = st.next_seq++;
  st.outstanding++;
  st.sh->in_flight++;
  auto conn = caf::actor_cast<caf::actor>(self);
  responder reply(
      [conn, seq, keep](server_response r) {
        caf::anon_send(conn, reply_atom::value, seq, keep, std::move(r));
      },
      [conn, seq, keep](server_response head, stream_options opts) {
        auto sh = std::make_shared<stream_writer::shared>();
        sh->conn = caf::actor_cast<caf::actor_addr>(conn);
        sh->seq = seq;
        sh->opts = std::move(opts);
        caf::anon_send(conn, stream_start_atom::value, seq, keep, std::move(head), stream_ref{sh});
        return stream_writer::make(std::move(sh));
      });
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
  while (!st.closing && !st.input_done && st.outstanding < cfg.max_pipelined &&
         st.unsent <= cfg.max_output_buffer_bytes && !st.inbuf.empty()) {
    std::size_t consumed = 0;
    auto s = st.parser->feed(st.inbuf.data(), st.inbuf.size(), consumed);
    st.inbuf.erase(0, consumed);
    if (s == request_parser::state::need_more) break;
    if (s == request_parser::state::expect_continue) {
      // An interim answer must not overtake earlier final ones; with
      // answers pending the client just sends its body after its own wait.
      if (st.outstanding == 0 && !st.peer_closed) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        write_bytes(self, cont);
      }
      continue;
    }
    if (s == request_parser::state::error) {
      const auto& e = st.parser->error();
      auto r = json_error(e.status, e.code, e.message);
      if (e.status == 503) r.headers.emplace_back("Retry-After", "1");
      r.close = true;
      st.inbuf.clear();
      st.input_done = true;
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
  bool busy = !st.input_done && !st.peer_closed && (st.parser->in_progress() || !st.inbuf.empty());
  if (busy && !st.request_in_progress) st.request_started = clock::now();
  st.request_in_progress = busy;
}

// The sweep (one tick from the acceptor): timeouts, and the repair of a
// read set that a same-batch halt and trigger left wrong.
void on_tick(conn_broker* self) {
  auto& st = self->state;
  const auto& cfg = st.sh->cfg;
  auto now = clock::now();
  // A client that stopped taking its answers: without this it would hold
  // its buffered answers (and, on shutdown, the process) forever.
  if (st.unsent > 0 && now - st.last_progress > cfg.idle_timeout) return force_close(self);
  if (!st.closing && st.outstanding == 0 && !st.peer_closed) {
    if (st.request_in_progress) {
      if (now >= st.request_started + cfg.request_timeout) {
        auto r = json_error(408, "request_timeout",
                            "the request did not arrive in full within " +
                                std::to_string(cfg.request_timeout.count()) + " ms");
        r.close = true;
        st.inbuf.clear();
        st.input_done = true;
        answer_now(self, std::move(r), false);
      }
    } else if (now >= st.last_activity + cfg.idle_timeout) {
      st.closing = true;
    }
  }
  if (st.reading && wants_input(st)) self->trigger(st.hdl);
  pump(self, false);
}

void start_draining(conn_broker* self) {
  auto& st = self->state;
  if (st.draining) return;
  st.draining = true;
  // An idle connection closes now; a busy one after its last answer.
  if (st.outstanding == 0 && !st.request_in_progress) st.closing = true;
  pump(self, false);
}

// The peer ended its side (or the connection failed; CAF does not say
// which). Answers still owed go out on a duplicate of the socket.
void on_peer_closed(conn_broker* self) {
  auto& st = self->state;
  // A client that leaves in the middle of a stream is gone for good (event
  // stream clients do not half-close): the stream ends, its producer hears.
  if (!st.streams.empty()) {
    self->quit();
    return;
  }
  bool owed = st.outstanding > 0 || (!st.input_done && !st.inbuf.empty());
  // With answer bytes still queued in the old scribe, new ones written on a
  // duplicate could interleave with them on the wire; those answers are
  // dropped instead (and counted when the state goes).
  if (st.peer_closed || !owed || st.unsent > 0) {
    self->quit();
    return;
  }
  int fd = ::dup(static_cast<int>(st.hdl.id()));
  if (fd < 0) {
    self->quit();
    return;
  }
  st.hdl = self->add_scribe(fd);
  st.peer_closed = true;
  st.reading = false;
  st.request_in_progress = false;
  self->ack_writes(st.hdl, true);
  pump(self, false);
}

caf::behavior connection(conn_broker* self, caf::io::connection_handle hdl,
                         const server_shared_ptr& sh) {
  auto& st = self->state;
  st.sh = sh;
  st.hdl = hdl;
  auto limits = sh->cfg.limits;
  // The parser asks before it stores a body; the answer comes from the
  // process-wide budget, and what is admitted is held until the answer.
  limits.admit_body = [self](std::size_t n) {
    auto& s = self->state;
    if (!s.sh->reserve(n)) {
      s.sh->busy_refusals++;
      return false;
    }
    s.body_reserved += n;
    return true;
  };
  st.parser.emplace(std::move(limits));
  self->configure_read(hdl, caf::io::receive_policy::at_most(16 * 1024));
  self->ack_writes(hdl, true);
  if (sh->draining.load()) start_draining(self);
  return {
      [=](const caf::io::new_data_msg& msg) {
        auto& st = self->state;
        if (msg.handle != st.hdl) return;
        if (st.closing || st.input_done || st.peer_closed) return;  // nothing more is read
        st.inbuf.append(msg.buf.data(), msg.buf.size());
        pump(self, true);
      },
      [=](reply_atom, std::uint64_t seq, bool keep, server_response& r) {
        auto& st = self->state;
        if (seq < st.next_write || st.ready.count(seq)) return;  // answered already
        deliver(self, seq, answer{std::move(r), keep});
        pump(self, false);
      },
      [=](stream_start_atom, std::uint64_t seq, bool keep, server_response& head, stream_ref& ref) {
        auto& st = self->state;
        if (seq < st.next_write || st.ready.count(seq)) {  // answered already
          ref.sh->closed = true;
          return;
        }
        auto& ss = st.streams[seq];
        ss.sh = ref.sh;
        if (!head.body.empty()) {
          std::string first = std::move(head.body);
          head.body.clear();
          deliver(self, seq, answer{std::move(head), keep, true});
          on_chunk(self, seq, first, false);
        } else {
          deliver(self, seq, answer{std::move(head), keep, true});
        }
        pump(self, false);
      },
      [=](chunk_atom, std::uint64_t seq, std::string& bytes) {
        on_chunk(self, seq, bytes);
        pump(self, false);
      },
      [=](stream_done_atom, std::uint64_t seq) {
        auto& st = self->state;
        auto it = st.streams.find(seq);
        if (it == st.streams.end()) return;
        it->second.ended = true;
        write_ready(self);
        pump(self, false);
      },
      [=](const caf::io::data_transferred_msg& msg) {
        auto& st = self->state;
        if (msg.handle != st.hdl) return;
        auto remaining = std::min(msg.remaining, st.unsent);
        st.sh->release(st.unsent - remaining);
        st.unsent = remaining;
        st.last_progress = clock::now();
        pump(self, false);
      },
      [=](timer_atom) { on_tick(self); },
      [=](drain_atom) { start_draining(self); },
      [=](close_atom) { force_close(self); },
      [=](finish_atom) {
        self->close(self->state.hdl);
        self->quit();
      },
      [=](const caf::io::connection_closed_msg& msg) {
        if (msg.handle != self->state.hdl) return;
        on_peer_closed(self);
      },
  };
}

}  // namespace

caf::actor fork_connection(caf::io::broker* acceptor, caf::io::connection_handle hdl,
                           server_shared_ptr sh) {
  return acceptor->fork(connection, hdl, std::move(sh));
}

}  // namespace weft::net::detail
