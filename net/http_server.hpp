// weft's HTTP/1.1 server, on CAF's io layer (brokers).
//
//   net::http_server_config cfg;            // 127.0.0.1:8080, limits below
//   auto srv = net::http_server::start(sys, cfg, [](server_request req, responder reply) {
//     reply(server_response{200, {{"Content-Type", "text/plain"}}, "hi"});
//   });
//   if (!srv) ...srv.error()...
//   ...
//   (*srv)->drain(std::chrono::seconds(10));  // stop accepting, finish, close
//
// Architecture. One acceptor broker owns the listening socket. Each accepted
// connection is forked into its own broker, so a connection is an actor: it
// parses bytes as they arrive (net/http_request_parser.hpp), hands each
// complete request to the handler, and gets the answer back as a message.
// There is no thread per connection and no blocking round trip per request:
// the handler returns at once and calls `responder` later, from any thread
// (typically the engine thread that finished the run). CAF runs every broker
// on the middleman's I/O thread; that thread only parses and writes, the
// work itself runs on the scheduler.
//
// HTTP behaviour.
//   - Keep-alive by default for HTTP/1.1; HTTP/1.0 and "Connection: close"
//     close after the answer.
//   - Pipelining: requests on one connection are answered in the order they
//     came, whatever order their handlers finish in. At most max_pipelined
//     are outstanding per connection.
//   - Backpressure: a connection stops reading (so TCP pushes back on the
//     client) while max_pipelined answers are outstanding or more than
//     max_output_buffer_bytes of its answers wait for the client to read
//     them. Nothing a client sends is dropped for being early, so every
//     answer that is produced is written before a close.
//   - Memory across connections: request bodies admitted and answer bytes
//     not yet sent count against max_buffered_bytes; a request whose body
//     would not fit gets 503 server_busy (with Retry-After) and a close,
//     decided from its Content-Length before a body byte is stored.
//   - A client that shuts down its write side after its requests (a
//     half-close) still gets every answer, then the connection closes.
//   - Errors the parser finds (400, 411, 413, 431, 505) are answered here as
//     JSON `{"error": {"code", "message", "details"}}` and close the
//     connection.
//   - "Expect: 100-continue" is answered with 100 when nothing is pending.
//   - Streamed answers (responder::stream): chunked, written as the
//     producer writes, in their place among the connection's answers. A
//     client that falls max_buffered_bytes behind gets the stream cut (with
//     the producer's last words); a client that goes away, or half-closes,
//     ends it: the producer hears of both through on_close.
//
// Limits (each one a config field): header bytes, body bytes, connections
// (over the limit a connection gets 503 and is closed), the time a started
// request may take to arrive in full (slowloris: 408 and close), the idle
// time of a keep-alive connection with nothing pending (closed quietly), and
// the same idle time for a client that stops reading its answers (reset).
// A run's own time limit is the handler's business.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/all.hpp>

#include "net/http_request_parser.hpp"
#include "net/http_response.hpp"

namespace weft::net {

/// Why a streamed answer ended before its producer ended it.
enum class stream_end {
  disconnected,  // the client went away (or the server reset the connection)
  overflow,      // the client fell more than max_buffered_bytes behind
};

struct stream_options {
  /// Bytes of this stream the server may hold for a client that reads
  /// slower than the producer writes (not yet taken by the kernel, or
  /// waiting behind earlier answers on the connection). Past it, the
  /// stream is cut: `overflow_tail` is its last chunk.
  std::size_t max_buffered_bytes = 1 << 20;
  std::string overflow_tail;
  /// Called at most once, on the server's I/O thread, when the stream is
  /// cut: the client left before the producer's end(), or the client fell
  /// too far behind (reported even if end() came first, since the bytes
  /// written last were replaced by `overflow_tail`). The producer should
  /// stop (cancel its run). Must not block.
  std::function<void(stream_end)> on_close;
};

/// The sending end of a streamed answer (responder::stream). Cheap to copy;
/// every copy is the same stream. Thread-safe: call it from any thread.
class stream_writer {
 public:
  stream_writer() = default;
  /// Sends `bytes` as one chunk of the body. False once the stream is over
  /// (ended, cut for overflow, or the client gone): stop producing then.
  /// Never blocks: a producer that gets max_buffered_bytes ahead of the
  /// connection's I/O thread is refused too, and the stream is cut.
  bool write(std::string bytes) const;
  /// Ends the body. Idempotent; later writes are refused.
  void end() const;
  /// True once the stream is over, for whatever reason.
  bool closed() const;

  struct shared;  // the server's
  static stream_writer make(std::shared_ptr<shared> s) { return stream_writer(std::move(s)); }

 private:
  explicit stream_writer(std::shared_ptr<shared> s) : s_(std::move(s)) {}
  std::shared_ptr<shared> s_;
};

/// Sends the answer to one request: either one whole answer (call it
/// once), or a streamed one (stream(), once). From any thread; never
/// blocks. Calls after the connection closed are ignored.
class responder {
 public:
  using send_fn = std::function<void(server_response)>;
  using stream_fn = std::function<stream_writer(server_response, stream_options)>;
  responder() = default;
  /// A responder that can only answer whole (tests, adapters).
  responder(send_fn send) : send_(std::move(send)) {}  // NOLINT: implicit on purpose
  responder(send_fn send, stream_fn stream) : send_(std::move(send)), stream_(std::move(stream)) {}

  void operator()(server_response r) const {
    if (send_) send_(std::move(r));
  }
  /// Starts a streamed answer: `head` (its status and headers; its body,
  /// if any, is the first chunk) goes out with chunked transfer encoding as
  /// soon as the answers before it on the connection are out, then each
  /// write is one chunk. Keep-alive survives a stream that ends normally.
  /// A responder without streaming answers `head` whole and returns a
  /// closed writer.
  stream_writer stream(server_response head, stream_options opts = {}) const;
  explicit operator bool() const { return static_cast<bool>(send_); }

 private:
  send_fn send_;
  stream_fn stream_;
};

/// Called on the I/O thread for each complete request. Must return quickly:
/// long work belongs on other actors, which answer through `reply`.
using request_handler = std::function<void(server_request req, responder reply)>;

struct http_server_config {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;  // 0: the OS picks one (see http_server::port())
  parse_limits limits;
  std::size_t max_connections = 10000;
  std::size_t max_pipelined = 32;
  /// A request whose first byte arrived must be complete within this.
  std::chrono::milliseconds request_timeout{10000};
  /// A connection with no request in progress and none pending closes after
  /// this; one whose client takes none of its answer bytes for this long is reset.
  std::chrono::milliseconds idle_timeout{30000};
  /// Answer bytes a connection may hold for a slow reader before it stops
  /// reading that client's requests.
  std::size_t max_output_buffer_bytes = 1 << 20;
  /// Request bodies admitted plus answer bytes unsent, over all connections;
  /// a body that would not fit is refused with 503.
  std::size_t max_buffered_bytes = std::size_t{256} << 20;
  /// Called on the I/O thread for every response written, parser errors included.
  std::function<void(int status)> on_response;
};

/// The JSON error body every weft error uses:
/// {"error": {"code": "...", "message": "...", "details": [...]}}.
/// `details_json` is a JSON array text ("[]" when empty).
server_response json_error(int status, std::string_view code, std::string_view message,
                           std::string_view details_json = "[]");

class http_server {
 public:
  /// Binds host:port and starts accepting. Blocks the calling thread (never
  /// a scheduler thread) until the socket is bound or binding failed. The
  /// actor system must have loaded caf::io::middleman.
  static caf::expected<std::unique_ptr<http_server>> start(caf::actor_system& sys,
                                                           http_server_config cfg,
                                                           request_handler handler);
  ~http_server();  // drain(0) if not drained yet
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// The bound port (useful with port 0).
  std::uint16_t port() const;
  /// Connections open now.
  std::size_t connections() const;
  /// Requests handed to the handler and not yet answered on the wire.
  std::size_t requests_in_flight() const;
  /// Bytes held now against max_buffered_bytes.
  std::size_t buffered_bytes() const;
  /// Answers produced (or owed) but never written because their connection
  /// went away first: the peer reset it, or it was reset at a deadline.
  std::uint64_t answers_dropped() const;
  /// Connections reset by the server: a client that stopped reading, or
  /// still open at the drain deadline.
  std::uint64_t forced_closes() const;
  /// Requests refused with 503 because of max_buffered_bytes.
  std::uint64_t busy_refusals() const;
  /// Streamed answers cut because their client fell too far behind.
  std::uint64_t stream_overflows() const;

  /// Graceful stop: closes the listening socket, answers requests that
  /// arrive on open connections with 503 and "Connection: close", waits up
  /// to `deadline` for pending requests to be answered and written, then
  /// resets every connection still open (within another 0.5 s). Returns
  /// false when the deadline passed first.
  /// Idempotent; blocks the calling thread (never call it on a scheduler
  /// thread).
  bool drain(std::chrono::milliseconds deadline);

  struct shared;  // state the acceptor and the connections share

 private:
  explicit http_server(std::shared_ptr<shared> s);
  std::shared_ptr<shared> shared_;
};

}  // namespace weft::net
