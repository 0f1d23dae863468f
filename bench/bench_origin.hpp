// A minimal HTTP/1.1 origin for benchmarks of outgoing calls: 127.0.0.1,
// one thread, epoll, keep-alive, every request answered at once with the
// same small 200 ("ok"). It records nothing per request (tests'
// loopback_server keeps every request, which a bench of millions of calls
// cannot afford) and reports its own thread's CPU time, so a bench can show
// whether the server was the bottleneck.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace weft::bench {

class origin_server {
 public:
  origin_server() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) throw std::runtime_error("origin_server: socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 1024) != 0)
      throw std::runtime_error("origin_server: cannot listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw std::runtime_error("origin_server: epoll_create1 failed");
    watch(listen_fd_, EPOLLIN, EPOLL_CTL_ADD);
    thread_ = std::thread([this] { loop(); });
    tid_ = thread_.native_handle();
  }

  ~origin_server() {
    stop_ = true;
    thread_.join();
    for (std::size_t fd = 0; fd < conns_.size(); ++fd)
      if (conns_[fd]) ::close(static_cast<int>(fd));
    ::close(ep_);
    ::close(listen_fd_);
  }

  origin_server(const origin_server&) = delete;
  origin_server& operator=(const origin_server&) = delete;

  std::string url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
  }

  std::uint64_t requests() const { return requests_.load(std::memory_order_relaxed); }
  std::uint64_t connections_accepted() const { return accepted_.load(std::memory_order_relaxed); }

  /// CPU time the server thread has used so far, in seconds.
  double cpu_seconds() const {
    clockid_t id;
    timespec ts{};
    if (pthread_getcpuclockid(tid_, &id) != 0 || clock_gettime(id, &ts) != 0) return 0;
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }

 private:
  struct conn {
    std::string in, out;
    bool want_out = false;  // EPOLLOUT is armed
  };

  static constexpr std::string_view answer_ =
      "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";

  void watch(int fd, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, op, fd, &ev);
  }

  void loop() {
    epoll_event evs[256];
    while (!stop_) {
      int n = ::epoll_wait(ep_, evs, 256, 50);
      for (int i = 0; i < n; ++i) {
        int fd = evs[i].data.fd;
        if (fd == listen_fd_) {
          accept_all();
          continue;
        }
        if (!step(fd, evs[i].events)) close_conn(fd);
      }
    }
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (static_cast<std::size_t>(fd) >= conns_.size())
        conns_.resize(static_cast<std::size_t>(fd) + 1);
      conns_[static_cast<std::size_t>(fd)] = std::make_unique<conn>();
      watch(fd, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
      accepted_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void close_conn(int fd) {
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
    ::close(fd);
    conns_[static_cast<std::size_t>(fd)].reset();
  }

  // Reads what there is, answers every complete request, writes; false when
  // the connection is to be closed.
  bool step(int fd, std::uint32_t events) {
    auto& c = *conns_[static_cast<std::size_t>(fd)];
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
      char buf[16384];
      for (;;) {
        auto got = ::recv(fd, buf, sizeof buf, 0);
        if (got > 0) {
          c.in.append(buf, static_cast<std::size_t>(got));
          if (static_cast<std::size_t>(got) < sizeof buf) break;
          continue;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        return false;  // closed or reset
      }
      if (!answer_all(c)) return false;
    }
    if (!c.out.empty()) {
      auto sent = ::send(fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (sent > 0) c.out.erase(0, static_cast<std::size_t>(sent));
      else if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    }
    bool want = !c.out.empty();
    if (want != c.want_out) {
      watch(fd, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u), EPOLL_CTL_MOD);
      c.want_out = want;
    }
    return true;
  }

  // Takes every complete request off c.in and queues an answer for each;
  // false on a head too large to be a request.
  bool answer_all(conn& c) {
    std::size_t pos = 0;
    for (;;) {
      auto end = c.in.find("\r\n\r\n", pos);
      if (end == std::string::npos) break;
      std::size_t length = 0;
      std::string_view head(c.in.data() + pos, end - pos);
      for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
           at = head.find("\r\n", at + 2)) {
        auto line = head.substr(at + 2);
        if (line.size() > 15 && strncasecmp(line.data(), "content-length:", 15) == 0) {
          auto v = line.substr(15);
          while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
          std::from_chars(v.data(), v.data() + v.size(), length);
        }
      }
      if (c.in.size() < end + 4 + length) break;  // the body is still coming
      pos = end + 4 + length;
      c.out += answer_;
      requests_.fetch_add(1, std::memory_order_relaxed);
    }
    c.in.erase(0, pos);
    return c.in.size() < 65536;
  }

  int listen_fd_ = -1;
  int ep_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> requests_{0}, accepted_{0};
  std::vector<std::unique_ptr<conn>> conns_;  // by fd; the server thread's alone
  std::thread thread_;
  pthread_t tid_{};
};

}  // namespace weft::bench
