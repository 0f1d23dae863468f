// Streamed answers of net::http_server (responder::stream): chunked framing
// on the wire, their place among pipelined answers, keep-alive after them,
// a client that leaves mid-stream (the producer hears), and a client that
// does not read (the stream is cut at its cap, with the producer's last
// words, and counted), and a producer faster than the connection's I/O
// thread (refused a cap ahead of it). Real sockets on loopback.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <caf/io/all.hpp>

#include "net/http_server.hpp"
#include "support/raw_http.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

struct stream_server {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::unique_ptr<net::http_server> server;
  std::atomic<int> disconnected{0}, overflowed{0};
  std::atomic<int> refused_writes{0};
  std::atomic<std::size_t> accepted_bytes{0};  // what the producers' writes were accepted with
  std::vector<std::thread> producers;

  explicit stream_server(std::size_t cap = 1 << 20) {
    cfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(cfg);
    net::http_server_config hc;
    hc.port = 0;
    hc.idle_timeout = 3s;
    auto started = net::http_server::start(
        *sys, hc, [this, cap](net::server_request req, net::responder reply) {
          // /stream?n=N&ms=M: N chunks "chunk i\n", M ms apart; /plain: one answer.
          if (req.target.rfind("/plain", 0) == 0) {
            reply(net::server_response{200, {{"Content-Type", "text/plain"}}, "plain"});
            return;
          }
          int n = 5, ms = 0;
          std::size_t size = 0;
          std::sscanf(req.target.c_str(), "/stream?n=%d&ms=%d&size=%zu", &n, &ms, &size);
          net::stream_options o;
          o.max_buffered_bytes = cap;
          o.overflow_tail = "event: error\ndata: too slow\n\n";
          o.on_close = [this](net::stream_end why) {
            (why == net::stream_end::disconnected ? disconnected : overflowed)++;
          };
          auto w = reply.stream(
              net::server_response{200, {{"Content-Type", "text/event-stream"}}, "first\n"}, o);
          producers.emplace_back([this, w, n, ms, size] {
            for (int i = 0; i < n; ++i) {
              if (ms) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
              std::string c = size ? std::string(size, 'x') : "chunk " + std::to_string(i) + "\n";
              const auto n = c.size();
              if (!w.write(std::move(c))) {
                ++refused_writes;
                return;
              }
              accepted_bytes += n;
            }
            w.end();
          });
        });
    REQUIRE(started);
    server = std::move(*started);
  }
  ~stream_server() {
    for (auto& t : producers) t.join();
    server->drain(2s);
    server.reset();
  }
  std::uint16_t port() const { return server->port(); }
};

std::string get(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n";
}

}  // namespace

TEST_CASE("http stream: chunked framing, then keep-alive on the same connection", "[net][stream]") {
  stream_server srv;
  raw_conn c(srv.port());
  REQUIRE(c.send(get("/stream?n=5&ms=5")));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("transfer-encoding") == "chunked");
  CHECK_FALSE(r->header("content-length"));
  CHECK(r->header("content-type") == "text/event-stream");
  CHECK(r->chunks.size() == 6);
  CHECK(r->body == "first\nchunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\n");
  REQUIRE(c.send(get("/plain")));
  auto p = c.read_response();
  REQUIRE(p);
  CHECK(p->body == "plain");
}

TEST_CASE("http stream: a pipelined answer waits for the stream before it", "[net][stream]") {
  stream_server srv;
  raw_conn c(srv.port());
  REQUIRE(c.send(get("/stream?n=3&ms=30") + get("/plain")));
  auto s = c.read_response();
  REQUIRE(s);
  CHECK(s->body == "first\nchunk 0\nchunk 1\nchunk 2\n");
  auto p = c.read_response();
  REQUIRE(p);
  CHECK(p->body == "plain");
}

TEST_CASE("http stream: the first chunks arrive before the stream ends", "[net][stream]") {
  stream_server srv;
  raw_conn c(srv.port());
  REQUIRE(c.send(get("/stream?n=3&ms=400")));
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(c.read_until("first\n", 2s));
  CHECK(std::chrono::steady_clock::now() - t0 < 300ms);
  REQUIRE(c.read_until("chunk 0\n", 2s));
  CHECK(c.pending().find("chunk 1") == std::string::npos);
}

TEST_CASE("http stream: a client that leaves mid-stream ends it, and the producer hears",
          "[net][stream]") {
  stream_server srv;
  {
    raw_conn c(srv.port());
    REQUIRE(c.send(get("/stream?n=100&ms=20")));
    REQUIRE(c.read_until("chunk 1\n", 3s));
  }  // closed
  auto until = std::chrono::steady_clock::now() + 5s;
  while ((srv.disconnected == 0 || srv.refused_writes == 0) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  CHECK(srv.disconnected == 1);
  CHECK(srv.refused_writes == 1);  // its next write was refused: it stopped
  CHECK(srv.overflowed == 0);
}

TEST_CASE(
    "http stream: a client that does not read is cut at the cap, with the last words, and counted",
    "[net][stream]") {
  stream_server srv(64 * 1024);
  raw_conn c(srv.port(), 4096);  // a small receive window, and we do not read
  REQUIRE(c.send(get("/stream?n=2000&ms=0&size=1000")));
  auto until = std::chrono::steady_clock::now() + 5s;
  while (srv.overflowed == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  CHECK(srv.overflowed == 1);
  CHECK(srv.server->stream_overflows() == 1);
  // The producer stopped at its next write, far short of 2,000 chunks.
  while (srv.refused_writes == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  CHECK(srv.refused_writes == 1);
  // What the server holds for this client stays near the cap.
  CHECK(srv.server->buffered_bytes() < 200 * 1024);
  // Reading now, the body ends with the producer's last words.
  auto r = c.read_response(5s);
  REQUIRE(r);
  CHECK(r->body.size() < 2000 * 1000);
  CHECK_THAT(r->body, Catch::EndsWith("event: error\ndata: too slow\n\n"));
  CHECK(srv.disconnected == 0);
}

TEST_CASE(
    "http stream: a producer far ahead of the connection is refused, not queued without bound",
    "[net][stream]") {
  // 20 MB written as fast as a thread can, to a client that does not read:
  // the writes are refused once the producer is a cap ahead of what the
  // server took, so what it ever accepted is bounded by what reached the
  // client plus two caps (the connection's and the one queued before it).
  const std::size_t cap = 64 * 1024;
  stream_server srv(cap);
  raw_conn c(srv.port(), 4096);
  REQUIRE(c.send(get("/stream?n=20000&ms=0&size=1000")));
  auto until = std::chrono::steady_clock::now() + 5s;
  while ((srv.overflowed == 0 || srv.refused_writes == 0) &&
         std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  REQUIRE(srv.refused_writes == 1);
  CHECK(srv.overflowed == 1);
  auto r = c.read_response(5s);
  REQUIRE(r);
  CHECK_THAT(r->body, Catch::EndsWith("event: error\ndata: too slow\n\n"));
  CHECK(srv.accepted_bytes <= r->body.size() + 2 * cap + 1000);
  CHECK(srv.accepted_bytes < 20000u * 1000u);
}
