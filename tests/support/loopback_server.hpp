// A small HTTP/1.1 origin server for tests of outgoing requests
// (node_context::http, http_client streaming and abort): real sockets on
// 127.0.0.1, one thread, poll(), so thousands of connections at once cost
// no thread each (test_collector spends one per connection).
//
// Each request says how to be answered, in its query string:
//   delay_ms=N      wait N ms before the answer's head
//   status=N        the status (default 200)
//   body_bytes=N    a Content-Length body of N pattern bytes (default: "ok")
//   chunks=N        a chunked body of N chunks instead, each chunk_bytes=B
//                   long (default 16), or 1..B long drawn from seed=S, one
//                   every interval_ms=I (default 0)
//   hang=1          send a chunked head, then nothing until the client leaves
//   fail_first=N    with key=K: the first N requests carrying key K get the
//                   status asked for, later ones 200 (retry tests)
//   retry_after=S   add "Retry-After: S" (seconds) to the answer
//   json=1          the body is {"index": <i>, "ok": true}, as application/json
// The body's bytes are pattern_byte(k) for k = 0, 1, ... across the whole
// body, so a test can check what arrived. Every answer carries
// "X-Test-Header: Value" and "X-Request-Index: <i>".
//
// It records every request (method, target, headers, body, arrival time) and,
// for a connection the client closed while an answer was unfinished, when
// it saw that close (closed_early), which is how abort tests observe the
// client hanging up.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace weft::test {

inline char pattern_byte(std::size_t k) { return static_cast<char>('a' + k % 26); }

inline std::string pattern(std::size_t from, std::size_t n) {
  std::string s(n, ' ');
  for (std::size_t i = 0; i < n; ++i) s[i] = pattern_byte(from + i);
  return s;
}

struct loopback_request {
  using clock = std::chrono::steady_clock;
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  clock::time_point received;
  /// Set when the client closed the connection before this request's
  /// answer was complete: when the server saw it.
  std::optional<clock::time_point> closed_early;
  bool answered = false;  // the whole answer was written

  std::optional<std::string> header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    return std::nullopt;
  }
};

class loopback_server {
 public:
  using clock = std::chrono::steady_clock;

  loopback_server() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) throw std::runtime_error("loopback_server: socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 4096) != 0)
      throw std::runtime_error("loopback_server: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0)
      throw std::runtime_error("loopback_server: pipe");
    thread_ = std::thread([this] { loop(); });
  }

  ~loopback_server() {
    stop_ = true;
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& [fd, c2] : conns_) ::close(fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const { return port_; }

  std::string url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
  }

  std::vector<loopback_request> requests() const {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_.size();
  }
  std::size_t connections_accepted() const { return accepted_.load(); }

  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
    auto deadline = clock::now() + timeout;
    while (!pred()) {
      if (clock::now() >= deadline) return pred();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

 private:
  enum class phase { reading, delaying, streaming, hanging };

  struct conn {
    std::string in, out;
    phase ph = phase::reading;
    std::size_t req = 0;       // index of the request being answered
    clock::time_point next{};  // when the delay ends or the next chunk is due
    // What the request asked for.
    int status = 200;
    long body_bytes = -1;
    long chunks = 0, chunk_bytes = 16, interval_ms = 0;
    bool hang = false;
    std::unique_ptr<std::mt19937> rng;
    std::size_t sent_body = 0;  // pattern offset
    bool close_after = false;
    long retry_after = -1;
    bool json = false;
  };

  static long param(std::string_view target, std::string_view name, long dflt) {
    auto q = target.find('?');
    if (q == std::string_view::npos) return dflt;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      auto amp = rest.find('&');
      auto kv = rest.substr(0, amp);
      auto eq = kv.find('=');
      if (eq != std::string_view::npos && kv.substr(0, eq) == name) {
        long v = dflt;
        std::from_chars(kv.data() + eq + 1, kv.data() + kv.size(), v);
        return v;
      }
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
    return dflt;
  }

  void loop() {
    std::vector<pollfd> fds;
    while (!stop_) {
      fds.clear();
      fds.push_back({wake_[0], POLLIN, 0});
      fds.push_back({listen_fd_, POLLIN, 0});
      auto now = clock::now();
      int timeout = 50;
      for (auto& [fd, c] : conns_) {
        short ev = POLLIN;
        if (!c.out.empty()) ev |= POLLOUT;
        fds.push_back({fd, ev, 0});
        if ((c.ph == phase::delaying || c.ph == phase::streaming) && c.out.empty()) {
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(c.next - now).count();
          timeout = static_cast<int>(std::clamp<long long>(ms, 0, timeout));
        }
      }
      ::poll(fds.data(), fds.size(), timeout);
      if (fds[1].revents & POLLIN) accept_all();
      now = clock::now();
      for (std::size_t i = 2; i < fds.size(); ++i) {
        int fd = fds[i].fd;
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        if (!step(fd, it->second, fds[i].revents, now)) {
          ::close(fd);
          conns_.erase(it);
        }
      }
    }
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      conns_.emplace(fd, conn{});
      ++accepted_;
    }
  }

  // Advances one connection; false when it is to be closed.
  bool step(int fd, conn& c, short revents, clock::time_point now) {
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[16384];
      for (;;) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
          c.in.append(buf, static_cast<std::size_t>(n));
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        if (n < 0 && errno == EINTR) continue;
        // The client closed (or reset) the connection.
        if (c.ph != phase::reading || !c.out.empty()) {
          std::lock_guard<std::mutex> lk(mu_);
          if (c.req < requests_.size() && !requests_[c.req].answered)
            requests_[c.req].closed_early = clock::now();
        }
        return false;
      }
    }
    if (c.ph == phase::reading && !parse(c)) return false;
    if (c.ph == phase::delaying && now >= c.next) begin_answer(c, now);
    if (c.ph == phase::streaming && c.out.empty() && now >= c.next) next_chunk(c, now);
    if (!c.out.empty()) {
      auto n = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) c.out.erase(0, static_cast<std::size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    }
    if (c.ph == phase::reading && c.out.empty() && c.close_after) return false;
    return true;
  }

  // Takes one complete request off c.in, if there is one; false on garbage.
  bool parse(conn& c) {
    auto end = c.in.find("\r\n\r\n");
    if (end == std::string::npos) return c.in.size() < 65536;
    loopback_request r;
    std::string_view head(c.in.data(), end);
    auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 <= sp1) return false;
    r.method = line.substr(0, sp1);
    r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::size_t length = 0;
    while (eol != std::string_view::npos) {
      head.remove_prefix(eol + 2);
      eol = head.find("\r\n");
      auto h = head.substr(0, eol);
      auto colon = h.find(':');
      if (colon == std::string_view::npos) continue;
      auto v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      r.headers.emplace_back(std::string(h.substr(0, colon)), std::string(v));
      if (strncasecmp(h.data(), "content-length", 14) == 0 && colon == 14)
        std::from_chars(v.data(), v.data() + v.size(), length);
    }
    if (c.in.size() < end + 4 + length) return true;  // the body is still coming
    r.body = c.in.substr(end + 4, length);
    c.in.erase(0, end + 4 + length);
    r.received = clock::now();
    auto conn_hdr = r.header("Connection");
    c.close_after = conn_hdr && strcasecmp(conn_hdr->c_str(), "close") == 0;
    c.status = static_cast<int>(param(r.target, "status", 200));
    c.body_bytes = param(r.target, "body_bytes", -1);
    c.chunks = param(r.target, "chunks", 0);
    c.chunk_bytes = std::max(1L, param(r.target, "chunk_bytes", 16));
    c.interval_ms = param(r.target, "interval_ms", 0);
    c.hang = param(r.target, "hang", 0) != 0;
    c.retry_after = param(r.target, "retry_after", -1);
    c.json = param(r.target, "json", 0) != 0;
    if (long first = param(r.target, "fail_first", 0); first > 0) {
      long key = param(r.target, "key", 0);
      std::lock_guard<std::mutex> lk(mu_);
      if (++failures_seen_[key] > first) c.status = 200;
    }
    long seed = param(r.target, "seed", -1);
    c.rng = seed >= 0 ? std::make_unique<std::mt19937>(static_cast<unsigned>(seed)) : nullptr;
    c.sent_body = 0;
    c.next = r.received + std::chrono::milliseconds(param(r.target, "delay_ms", 0));
    {
      std::lock_guard<std::mutex> lk(mu_);
      c.req = requests_.size();
      requests_.push_back(std::move(r));
    }
    c.ph = phase::delaying;
    return true;
  }

  std::string head(const conn& c, bool chunked, std::size_t length) const {
    std::string h = "HTTP/1.1 " + std::to_string(c.status) + " Status\r\nX-Test-Header: Value\r\n";
    h += "X-Request-Index: " + std::to_string(c.req) + "\r\n";
    if (c.retry_after >= 0) h += "Retry-After: " + std::to_string(c.retry_after) + "\r\n";
    if (c.json) h += "Content-Type: application/json\r\n";
    if (chunked) h += "Transfer-Encoding: chunked\r\n";
    else h += "Content-Length: " + std::to_string(length) + "\r\n";
    if (c.close_after) h += "Connection: close\r\n";
    return h + "\r\n";
  }

  void begin_answer(conn& c, clock::time_point now) {
    if (c.hang) {
      c.out += head(c, true, 0);
      c.ph = phase::hanging;
      return;
    }
    if (c.chunks > 0) {
      c.out += head(c, true, 0);
      c.ph = phase::streaming;
      c.next = now;
      return;
    }
    std::string body =
        c.body_bytes >= 0 ? pattern(0, static_cast<std::size_t>(c.body_bytes)) : "ok";
    if (c.json) body = "{\"index\": " + std::to_string(c.req) + ", \"ok\": true}";
    c.out += head(c, false, body.size()) + body;
    finish(c);
  }

  void next_chunk(conn& c, clock::time_point now) {
    if (c.chunks == 0) {
      c.out += "0\r\n\r\n";
      finish(c);
      return;
    }
    std::size_t n = static_cast<std::size_t>(c.chunk_bytes);
    if (c.rng) n = std::uniform_int_distribution<std::size_t>(1, n)(*c.rng);
    char size[32];
    auto [p, ec] = std::to_chars(size, size + sizeof size, n, 16);
    (void)ec;
    c.out += std::string(size, p) + "\r\n" + pattern(c.sent_body, n) + "\r\n";
    c.sent_body += n;
    --c.chunks;
    c.next = now + std::chrono::milliseconds(c.interval_ms);
  }

  void finish(conn& c) {
    c.ph = phase::reading;
    std::lock_guard<std::mutex> lk(mu_);
    if (c.req < requests_.size()) requests_[c.req].answered = true;
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> accepted_{0};
  std::thread thread_;
  std::map<int, conn> conns_;  // the server thread's alone
  mutable std::mutex mu_;
  std::vector<loopback_request> requests_;
  std::map<long, long> failures_seen_;  // fail_first: requests seen per key
};

}  // namespace weft::test
