// The implementation of support/test_collector.hpp. It lives here rather than
// in support/ because the build compiles tests/*.cpp only.
#include "support/test_collector.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

#include "net/gzip.hpp"

namespace weft::test {

namespace {

constexpr std::size_t max_head_bytes = 64 * 1024;
constexpr std::size_t max_header_count = 100;
constexpr std::size_t max_body_bytes = 64u << 20;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* reason(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 200:
      return "OK";
    case 202:
      return "Accepted";
    case 207:
      return "Multi-Status";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a client that hung up must not kill the test with SIGPIPE.
    auto n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

using header_list = std::vector<std::pair<std::string, std::string>>;

bool send_response(int fd, int status, const header_list& headers, std::string_view body,
                   bool close, std::size_t pad_bytes = 0) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  out += "Content-Type: application/json\r\n";
  out += "Content-Length: " + std::to_string(body.size() + pad_bytes) + "\r\n";
  if (close) out += "Connection: close\r\n";
  for (auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += body;
  if (!send_all(fd, out)) return false;
  const std::string spaces(64 * 1024, ' ');
  while (pad_bytes > 0) {
    const auto n = std::min(pad_bytes, spaces.size());
    if (!send_all(fd, std::string_view(spaces).substr(0, n))) return false;
    pad_bytes -= n;
  }
  return true;
}

bool known_route(std::string_view path) {
  path = path.substr(0, path.find('?'));
  return path == "/v1/traces" || path == "/api/public/otel/v1/traces" ||
         path == "/api/public/ingestion";
}

// Reads more bytes into buf; false on EOF or error.
bool read_more(int fd, std::string& buf) {
  char tmp[16 * 1024];
  for (;;) {
    auto n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
    return true;
  }
}

struct request_head {
  std::string method, path, version;
  std::vector<std::pair<std::string, std::string>> headers;

  std::optional<std::string> header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (iequals(k, name)) return v;
    return std::nullopt;
  }
};

// Parses "METHOD SP PATH SP HTTP/1.x" and the header lines; false if malformed.
bool parse_head(std::string_view head, request_head& out) {
  auto eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  auto sp1 = line.find(' ');
  auto sp2 = line.find(' ', sp1 == std::string_view::npos ? sp1 : sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0) return false;
  out.method = line.substr(0, sp1);
  out.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  out.version = line.substr(sp2 + 1);
  if (out.path.empty() || out.path[0] != '/' || !out.version.starts_with("HTTP/1.")) return false;
  head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    line = head.substr(0, eol);
    head.remove_prefix(eol == std::string_view::npos ? head.size() : eol + 2);
    if (line.empty()) continue;
    auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0 || line[0] == ' ' || line[0] == '\t')
      return false;  // no name, or obsolete line folding
    out.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                             std::string(trim(line.substr(colon + 1))));
  }
  return true;
}

}  // namespace

std::optional<std::string> received_request::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (iequals(k, name)) return v;
  return std::nullopt;
}

test_collector::test_collector(std::uint16_t port) : port_(port) { start(); }

test_collector::~test_collector() { stop(); }

std::string test_collector::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void test_collector::start() {
  if (running_) return;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("test_collector: socket failed");
  int one = 1;
  // Lets start() bind the old port again while its connections sit in TIME_WAIT.
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 512) != 0) {
    ::close(fd);
    throw std::runtime_error("test_collector: cannot listen on port " + std::to_string(port_) +
                             ": " + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  listen_fd_ = fd;
  running_ = true;
  acceptor_ = std::thread([this, fd] { accept_loop(fd); });
}

void test_collector::stop() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lk(mu_);
    running_ = false;
  }
  stopped_cv_.notify_all();
  // shutdown() wakes the thread blocked in accept(); close() alone would not.
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  listen_fd_ = -1;
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(connection_threads_);
  }
  for (auto& t : threads) t.join();
}

void test_collector::accept_loop(int listen_fd) {
  while (running_) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down by stop()
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::lock_guard<std::mutex> lk(mu_);
    if (!running_) {
      ::close(fd);
      return;
    }
    ++connections_accepted_;
    open_fds_.insert(fd);
    connection_threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void test_collector::serve(int fd) {
  std::string buf;
  outcome o;
  while ((o = serve_one(fd, buf)) == outcome::keep_open) {
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (o == outcome::reset) {
    // Linger 0 turns close() into an RST: the client sees "connection reset".
    linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
  open_fds_.erase(fd);
  ::close(fd);
}

test_collector::outcome test_collector::serve_one(int fd, std::string& buf) {
  auto fail = [fd](int status) {
    send_response(fd, status, {}, "", true);
    return outcome::close;
  };
  std::size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > max_head_bytes) return fail(431);
    if (!read_more(fd, buf)) return outcome::close;
  }
  request_head head;
  if (!parse_head(std::string_view(buf).substr(0, head_end), head)) return fail(400);
  if (head.headers.size() > max_header_count || head_end > max_head_bytes) return fail(431);
  if (head.header("Transfer-Encoding")) return fail(411);
  std::size_t length = 0;
  if (auto cl = head.header("Content-Length")) {
    auto [p, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), length);
    if (ec != std::errc() || p != cl->data() + cl->size()) return fail(400);
  }
  if (length > max_body_bytes) return fail(413);
  std::size_t body_start = head_end + 4;
  auto expect = head.header("Expect");
  if (expect && iequals(*expect, "100-continue") && buf.size() < body_start + length)
    send_all(fd, "HTTP/1.1 100 Continue\r\n\r\n");
  while (buf.size() < body_start + length)
    if (!read_more(fd, buf)) return outcome::close;

  received_request req;
  req.method = head.method;
  req.path = head.path;
  req.body = buf.substr(body_start, length);
  buf.erase(0, body_start + length);
  auto connection = head.header("Connection");
  bool close = head.version == "HTTP/1.0" || (connection && iequals(*connection, "close"));
  if (auto enc = head.header("Content-Encoding"); enc && iequals(*enc, "gzip")) {
    auto plain = net::gzip_decompress(req.body, max_body_bytes);
    if (!plain) return fail(400);
    req.body = std::move(*plain);
    req.was_gzip = true;
  }
  req.headers = std::move(head.headers);
  auto answer = [&](int status, const header_list& headers, std::string_view body,
                    std::size_t pad_bytes = 0) {
    bool sent = send_response(fd, status, headers, body, close, pad_bytes);
    return sent && !close ? outcome::keep_open : outcome::close;
  };

  if (req.method != "POST" || !known_route(req.path)) {
    req.answered_status = 404;
    record(std::move(req));
    return answer(404, header_list{}, "");
  }
  std::size_t limit = 0;
  {
    std::lock_guard<std::mutex> lk(mu_);
    limit = body_limit_;
  }
  if (limit > 0 && req.body.size() > limit) {
    req.answered_status = 413;
    record(std::move(req));
    return answer(413, header_list{}, R"({"error":"request too large"})");
  }
  int index = -1;
  fault step = next_step(index);
  req.script_step = index;
  // Recorded before answering, so a client that has its response can
  // already see its request here.
  req.answered_status = step.k == fault::reset ? 0 : step.status;
  record(std::move(req));
  if (step.k == fault::reset) return outcome::reset;
  if (step.k == fault::delay && !sleep_unless_stopped(step.delay_ms)) return outcome::close;
  return answer(step.status, step.headers, step.body, step.pad_bytes);
}

fault test_collector::next_step(int& index) {
  std::lock_guard<std::mutex> lk(mu_);
  if (script_.empty()) {
    index = -1;
    return default_;
  }
  fault f = std::move(script_.front());
  script_.pop_front();
  index = next_step_index_++;
  return f;
}

void test_collector::record(received_request r) {
  std::lock_guard<std::mutex> lk(mu_);
  requests_.push_back(std::move(r));
}

bool test_collector::sleep_unless_stopped(int ms) {
  std::unique_lock<std::mutex> lk(mu_);
  return !stopped_cv_.wait_for(lk, std::chrono::milliseconds(ms), [this] { return !running_; });
}

void test_collector::script(std::vector<fault> steps) {
  std::lock_guard<std::mutex> lk(mu_);
  for (auto& s : steps) script_.push_back(std::move(s));
}

void test_collector::reject_bodies_over(std::size_t bytes) {
  std::lock_guard<std::mutex> lk(mu_);
  body_limit_ = bytes;
}

void test_collector::set_default(fault f) {
  std::lock_guard<std::mutex> lk(mu_);
  default_ = std::move(f);
}

std::vector<received_request> test_collector::requests() const {
  std::lock_guard<std::mutex> lk(mu_);
  return requests_;
}

std::size_t test_collector::request_count() const {
  std::lock_guard<std::mutex> lk(mu_);
  return requests_.size();
}

std::size_t test_collector::connections_accepted() const {
  std::lock_guard<std::mutex> lk(mu_);
  return connections_accepted_;
}

void test_collector::clear() {
  std::lock_guard<std::mutex> lk(mu_);
  requests_.clear();
  script_.clear();
  next_step_index_ = 0;
  connections_accepted_ = 0;
}

bool test_collector::wait_for(const std::function<bool()>& pred,
                              std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace weft::test
