// The test collector itself, driven over raw sockets (no libcurl), so that
// tests built on it can trust what it records and how it answers.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "net/gzip.hpp"
#include "support/test_collector.hpp"

using namespace weft;
using namespace std::chrono_literals;
using test::fault;

namespace {

// A blocking loopback connection that speaks just enough HTTP/1.1.
class raw_connection {
 public:
  explicit raw_connection(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};  // a broken collector fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~raw_connection() { ::close(fd_); }
  bool connected() const { return connected_; }

  void send(std::string_view data) { ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL); }

  // Reads one response; returns its status line and body ("" on EOF).
  // errno_out receives the errno of a failed read (ECONNRESET for an RST).
  std::pair<std::string, std::string> read_response(int* errno_out = nullptr) {
    std::size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill(errno_out)) return {};
    std::string head = buf_.substr(0, head_end);
    std::size_t length = 0;
    auto cl = head.find("Content-Length: ");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
    while (buf_.size() < head_end + 4 + length)
      if (!fill(errno_out)) return {};
    std::string status = head.substr(0, head.find("\r\n"));
    std::string body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    return {status, body};
  }

  // True once the peer has closed the connection.
  bool closed_by_peer() {
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }

 private:
  bool fill(int* errno_out) {
    char tmp[4096];
    auto n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) {
      if (errno_out) *errno_out = n < 0 ? errno : 0;
      return false;
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
  int fd_ = -1;
  bool connected_ = false;
  std::string buf_;
};

std::string post_text(std::string path, std::string body, std::string extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n" + extra_headers + "\r\n" + body;
}

}  // namespace

TEST_CASE("test_collector: keep-alive, routes and recording", "[net]") {
  test::test_collector col;
  CHECK(col.port() != 0);
  CHECK(col.base_url() == "http://127.0.0.1:" + std::to_string(col.port()));

  raw_connection c(col.port());
  REQUIRE(c.connected());
  // Two requests in one write: pipelined on one connection.
  c.send(post_text("/v1/traces", "one", "X-A: 1\r\n") +
         post_text("/api/public/ingestion?batch=1", "two"));
  CHECK(c.read_response() == std::pair<std::string, std::string>{"HTTP/1.1 200 OK", "{}"});
  CHECK(c.read_response() == std::pair<std::string, std::string>{"HTTP/1.1 200 OK", "{}"});
  c.send(post_text("/elsewhere", "three"));
  CHECK(c.read_response().first == "HTTP/1.1 404 Not Found");
  c.send("GET /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(c.read_response().first == "HTTP/1.1 404 Not Found");

  CHECK(col.connections_accepted() == 1);
  auto got = col.requests();
  REQUIRE(got.size() == 4);
  CHECK(got[0].path == "/v1/traces");
  CHECK(got[0].body == "one");
  CHECK(got[0].header("x-a") == "1");
  CHECK(got[0].answered_status == 200);
  CHECK(got[0].script_step == -1);
  CHECK(got[1].path == "/api/public/ingestion?batch=1");
  CHECK(got[2].answered_status == 404);
  CHECK(got[3].method == "GET");

  col.clear();
  CHECK(col.request_count() == 0);
  CHECK(col.connections_accepted() == 0);
}

TEST_CASE("test_collector: gzip bodies are recorded decompressed", "[net]") {
  test::test_collector col;
  raw_connection c(col.port());
  std::string plain(10000, 'a');
  c.send(post_text("/v1/traces", net::gzip_compress(plain), "Content-Encoding: gzip\r\n"));
  CHECK(c.read_response().first == "HTTP/1.1 200 OK");
  c.send(post_text("/v1/traces", "not gzip", "Content-Encoding: gzip\r\n"));
  CHECK(c.read_response().first == "HTTP/1.1 400 Bad Request");
  CHECK(c.closed_by_peer());
  auto got = col.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].was_gzip);
  CHECK(got[0].body == plain);
}

TEST_CASE("test_collector: bad requests get 4xx and close", "[net]") {
  test::test_collector col;
  auto answer = [&](std::string text) {
    raw_connection c(col.port());
    c.send(text);
    auto status = c.read_response().first;
    CHECK(c.closed_by_peer());
    return status;
  };
  CHECK(answer("POST /v1/traces HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5\r\nhello\r\n0\r\n\r\n") == "HTTP/1.1 411 Length Required");
  CHECK(answer("garbage\r\n\r\n") == "HTTP/1.1 400 Bad Request");
  CHECK(answer("POST /v1/traces HTTP/1.1\r\nContent-Length: x\r\n\r\n") ==
        "HTTP/1.1 400 Bad Request");
  CHECK(answer("POST /v1/traces HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n") ==
        "HTTP/1.1 413 Content Too Large");
  CHECK(answer("POST /v1/traces HTTP/1.1\r\nX: " + std::string(70000, 'h') + "\r\n\r\n") ==
        "HTTP/1.1 431 Request Header Fields Too Large");
  CHECK(col.request_count() == 0);
}

TEST_CASE("test_collector: scripted faults are consumed in order", "[net]") {
  test::test_collector col;
  col.script({fault::answer(503, {{"Retry-After", "2"}}, "down"), fault::delay_by(150, 201),
              fault::reset_connection()});
  raw_connection c(col.port());
  c.send(post_text("/v1/traces", "a"));
  CHECK(c.read_response() ==
        std::pair<std::string, std::string>{"HTTP/1.1 503 Service Unavailable", "down"});
  auto t0 = std::chrono::steady_clock::now();
  c.send(post_text("/v1/traces", "b"));
  CHECK(c.read_response().first == "HTTP/1.1 201 Status");
  CHECK(std::chrono::steady_clock::now() - t0 >= 150ms);
  c.send(post_text("/v1/traces", "c"));
  int err = 0;
  CHECK(c.read_response(&err).first.empty());
  CHECK(err == ECONNRESET);

  raw_connection d(col.port());
  d.send(post_text("/v1/traces", "d"));
  CHECK(d.read_response().first == "HTTP/1.1 200 OK");  // script used up: default

  col.set_default(fault::answer(503));
  d.send(post_text("/v1/traces", "e"));
  CHECK(d.read_response().first == "HTTP/1.1 503 Service Unavailable");

  auto got = col.requests();
  REQUIRE(got.size() == 5);
  CHECK(got[0].script_step == 0);
  CHECK(got[1].script_step == 1);
  CHECK(got[1].answered_status == 201);
  CHECK(got[2].script_step == 2);
  CHECK(got[2].answered_status == 0);
  CHECK(got[3].script_step == -1);
  CHECK(got[4].answered_status == 503);
}

TEST_CASE("test_collector: stop refuses connections, start listens on the same port", "[net]") {
  test::test_collector col;
  auto port = col.port();
  col.script({fault::delay_by(10000)});
  raw_connection slow(port);
  slow.send(post_text("/v1/traces", "x"));
  REQUIRE(col.wait_for([&] { return col.request_count() == 1; }, 2s));

  auto t0 = std::chrono::steady_clock::now();
  col.stop();  // must not wait for the 10 s delay
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(slow.closed_by_peer());
  CHECK_FALSE(raw_connection(port).connected());

  col.start();
  CHECK(col.port() == port);
  raw_connection again(port);
  REQUIRE(again.connected());
  again.send(post_text("/v1/traces", "y"));
  CHECK(again.read_response().first == "HTTP/1.1 200 OK");
}

TEST_CASE("test_collector: wait_for times out on a false predicate", "[net]") {
  test::test_collector col;
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(col.wait_for([] { return false; }, 50ms));
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  CHECK(col.wait_for([] { return true; }, 0ms));
}
