// A trace collector for tests: a real HTTP/1.1 server on 127.0.0.1 that
// accepts what OTLP and Langfuse exporters upload, records every request, and
// answers as a test script tells it to (statuses, delays, connection resets),
// so that clients and exporters are tested over real sockets.
//
// Answers can be padded to any size without holding it (fault::padded), and
// bodies over a set size refused with 413 (reject_bodies_over).
//
// Routes: POST /v1/traces, /api/public/otel/v1/traces and
// /api/public/ingestion (a query string is ignored). Anything else gets 404
// and consumes no script step.
//
// HTTP it speaks: keep-alive (several requests per connection; HTTP/1.0 or
// "Connection: close" closes after the answer), Content-Length bodies,
// "Expect: 100-continue", and "Content-Encoding: gzip" request bodies, which
// it records decompressed. Chunked request bodies are not supported: they get
// 411 and the connection closes. A head over 64 KiB or 100 headers, or a body
// over 64 MiB, gets 431/413; a malformed request gets 400; both close.
//
// One thread accepts, and one thread serves each connection. stop() closes
// the listening socket and every connection; start() listens again on the
// same port, so a test can take the backend down and bring it back.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace weft::test {

/// What the collector does with one request on a known route.
struct fault {
  enum kind { respond, delay, reset };
  kind k = respond;
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
  std::string body = "{}";
  int delay_ms = 0;  // for `delay`: wait this long, then answer `status`
  /// Spaces sent after `body` (streamed, never held in memory): a huge
  /// answer that is still valid JSON.
  std::size_t pad_bytes = 0;

  static fault answer(int status, std::vector<std::pair<std::string, std::string>> headers = {},
                      std::string body = "{}") {
    return fault{respond, status, std::move(headers), std::move(body), 0};
  }
  static fault delay_by(int ms, int status = 200) { return fault{delay, status, {}, "{}", ms}; }
  /// `status` with `body` and then `pad_bytes` spaces.
  static fault padded(int status, std::size_t pad_bytes, std::string body = "{}") {
    return fault{respond, status, {}, std::move(body), 0, pad_bytes};
  }
  /// Close the connection with a TCP RST instead of answering.
  static fault reset_connection() { return fault{reset, 0, {}, "", 0}; }
};

struct received_request {
  std::string method, path;  // path as sent, query string included
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decompressed when it came gzip-encoded
  bool was_gzip = false;
  int script_step = -1;     // index of the script step it consumed; -1: default answer
  int answered_status = 0;  // 0: no answer (reset, or the collector stopped)

  /// The first header with this name, compared case-insensitively.
  std::optional<std::string> header(std::string_view name) const;
};

class test_collector {
 public:
  /// Listens on 127.0.0.1:port at once; port 0 picks a free one.
  explicit test_collector(std::uint16_t port = 0);
  ~test_collector();
  test_collector(const test_collector&) = delete;
  test_collector& operator=(const test_collector&) = delete;

  std::uint16_t port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT"

  /// Closes the listening socket and all connections; afterwards connecting
  /// is refused. Waits for the server threads to end.
  void stop();
  /// Listens again on the same port. No-op while running.
  void start();

  /// Appends steps; each request on a known route consumes the next one.
  /// Step indexes count from the collector's creation (or the last clear()).
  void script(std::vector<fault> steps);
  /// The answer once the script is used up (initially 200 with body "{}").
  void set_default(fault f);
  /// Requests whose (decompressed) body is larger get 413, as a backend
  /// with a request size limit answers; they consume no script step.
  /// 0 (the default): no limit below the 64 MiB one.
  void reject_bodies_over(std::size_t bytes);

  std::vector<received_request> requests() const;
  std::size_t request_count() const;
  std::size_t connections_accepted() const;
  /// Forgets recorded requests, connections counted, and the script.
  void clear();

  /// Polls `pred` until it holds or `timeout` passes; returns its last value.
  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const;

 private:
  void accept_loop(int listen_fd);
  enum class outcome { keep_open, close, reset };
  void serve(int fd);
  outcome serve_one(int fd, std::string& buf);  // one request and its answer
  fault next_step(int& index);
  void record(received_request r);
  bool sleep_unless_stopped(int ms);

  std::uint16_t port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> running_{false};
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable stopped_cv_;
  std::vector<std::thread> connection_threads_;
  std::set<int> open_fds_;
  std::vector<received_request> requests_;
  std::deque<fault> script_;
  int next_step_index_ = 0;
  fault default_;
  std::size_t body_limit_ = 0;
  std::size_t connections_accepted_ = 0;
};

}  // namespace weft::test
