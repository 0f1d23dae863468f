// A deliberately small, blocking HTTP/1.1 client on a raw loopback socket,
// for server tests that must send exactly the bytes they choose: malformed
// request lines, oversized headers, half a body, a connection dropped in the
// middle of a request, or several pipelined requests in one write.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weft::test {

struct raw_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;                 // a chunked body decoded
  std::vector<std::string> chunks;  // of a chunked body, as they were framed

  std::optional<std::string> header(const std::string& name) const {
    for (auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return std::nullopt;
  }
};

class raw_conn {
 public:
  /// `rcvbuf` > 0 shrinks the receive buffer (before connect, so the window
  /// is small from the start): a client that reads slowly or not at all.
  explicit raw_conn(std::uint16_t port, int rcvbuf = 0) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf > 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~raw_conn() { close(); }
  raw_conn(const raw_conn&) = delete;
  raw_conn& operator=(const raw_conn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  /// Ends our side (FIN) while the server's side stays open: a half-close.
  void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  bool send(const std::string& bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;
      off += static_cast<std::size_t>(n);
    }
    return true;
  }

  /// Reads one response (Content-Length framed). nullopt on timeout or when
  /// the peer closed before a whole response arrived.
  /// For the answer to a HEAD request pass `head`: it has no body, whatever
  /// its Content-Length says.
  std::optional<raw_response> read_response(
      std::chrono::milliseconds timeout = std::chrono::seconds(10), bool head = false) {
    auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto r = try_parse(head)) return r;
      if (!fill(until)) return std::nullopt;
    }
  }

  /// Reads until what arrived so far (not yet taken by read_response)
  /// contains `needle`; false on timeout or EOF first.
  bool read_until(std::string_view needle,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (in_.find(needle) == std::string::npos)
      if (!fill(until)) return false;
    return true;
  }
  /// The bytes read and not yet taken by read_response.
  const std::string& pending() const { return in_; }

  /// True when the server closed the connection (EOF) within `timeout`,
  /// after any bytes still buffered.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (fill(until)) {
    }
    return eof_;
  }

 private:
  // Reads more bytes; false on EOF, error or timeout.
  bool fill(std::chrono::steady_clock::time_point until) {
    if (fd_ < 0 || eof_) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
    char buf[16384];
    auto n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    in_.append(buf, static_cast<std::size_t>(n));
    return true;
  }

  std::optional<raw_response> try_parse(bool head) {
    auto end = in_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    raw_response r;
    auto line_end = in_.find("\r\n");
    auto status_line = in_.substr(0, line_end);
    auto sp = status_line.find(' ');
    if (sp == std::string::npos) return std::nullopt;
    r.status = std::atoi(status_line.c_str() + sp + 1);
    std::size_t pos = line_end + 2;
    std::size_t length = 0;
    while (pos < end) {
      auto e = in_.find("\r\n", pos);
      auto line = in_.substr(pos, e - pos);
      auto colon = line.find(':');
      auto name = line.substr(0, colon);
      auto value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (strcasecmp(name.c_str(), "content-length") == 0 && !head) length = std::stoul(value);
      r.headers.emplace_back(name, value);
      pos = e + 2;
    }
    auto te = r.header("transfer-encoding");
    if (te && strcasecmp(te->c_str(), "chunked") == 0 && !head) {
      std::size_t at = end + 4;
      for (;;) {
        auto eol = in_.find("\r\n", at);
        if (eol == std::string::npos) return std::nullopt;
        auto size = std::stoul(in_.substr(at, eol - at), nullptr, 16);
        if (in_.size() < eol + 2 + size + 2) return std::nullopt;
        if (size == 0) {
          in_.erase(0, eol + 4);
          return r;
        }
        r.chunks.push_back(in_.substr(eol + 2, size));
        r.body += r.chunks.back();
        at = eol + 2 + size + 2;
      }
    }
    if (in_.size() < end + 4 + length) return std::nullopt;
    r.body = in_.substr(end + 4, length);
    in_.erase(0, end + 4 + length);
    if (r.status == 100) return try_parse(head);  // interim answer: the final one follows
    return r;
  }

  int fd_ = -1;
  bool eof_ = false;
  std::string in_;
};

/// "POST /path HTTP/1.1" with a JSON body and the given extra header lines
/// (each ending in \r\n).
inline std::string json_post(const std::string& path, const std::string& body,
                             const std::string& extra_headers = "") {
  return "POST " + path +
         " HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

inline std::string get_request(const std::string& path, const std::string& extra_headers = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra_headers + "\r\n";
}

/// One request on a fresh connection.
inline std::optional<raw_response> http_exchange(std::uint16_t port, const std::string& request) {
  raw_conn c(port);
  if (!c.ok() || !c.send(request)) return std::nullopt;
  return c.read_response();
}

}  // namespace weft::test
