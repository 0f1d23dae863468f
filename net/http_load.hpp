// An HTTP load driver: sends `total` requests, keeping exactly `concurrency`
// of them in flight, and measures each one. `weft load --url` drives a
// `weft serve` with it.
//
//   net::http_load load({.concurrency = 64, .total = 100000});
//   auto stats = load.run(
//       [&](std::int64_t i) { return make_request(i); },          // just before sending
//       [&](net::http_load_sample&& s) { record(std::move(s)); });  // once per request
//
// Why not http_client / curl_worker. Both run libcurl on a thread of their
// own and hand requests in through a locked inbox and curl_multi_wakeup(), and
// answers out through a callback on that thread. For a load generator at
// 15,000+ requests/s that costs two thread hand-offs per request, and each
// hand-off (a futex wake, a poll wakeup) lands inside the latency being
// measured and adds scheduler jitter to it. Here the calling thread itself
// runs one curl multi handle: when a transfer ends, its sample is delivered
// and the next request is added in the same loop iteration, and the loop
// calls curl_multi_perform() again at once, so a freed slot is refilled
// without waiting on poll() and with no lock anywhere on the path. Latency is
// taken from just before curl_multi_add_handle() to the curl_multi_perform()
// call that finished the transfer. Measured against the loopback test
// collector: 16-20 us of driver-thread CPU per request, 45,000 requests/s
// with 8 in flight on a 2-core machine that also ran the server.
//
// Connections. One easy handle per slot, and the multi handle allows
// `concurrency` connections per host and in its idle cache, so every request
// in flight has a kept-alive connection of its own and a steady run opens
// exactly `concurrency` connections (see http_load_stats::connections_opened).
// HTTP/1.1 is forced: HTTP/2 would multiplex all requests onto one connection,
// which is not what a load test of a keep-alive server should measure.
//
// Requests. As in http_client: only http and https, no redirects followed, no
// retries, request headers checked for CR/LF (never echoed, since they carry
// API keys), and "Expect:" is sent empty, because libcurl's default
// "Expect: 100-continue" for larger bodies costs a round trip per request.
// Every request gets http_load_config::timeout_ms; http_request::timeout_ms is
// ignored. Response bodies are kept up to max_body_bytes (the rest is read
// and discarded, so the connection stays reusable).
//
// Threading. run() blocks its thread, and calls make and done on it. stop()
// and cancel() may be called from any thread (and from make, done or tick),
// but not from a signal handler: set a flag there and call stop() from tick.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "net/http_types.hpp"

namespace weft::net {

struct http_load_config {
  /// Requests in flight at once (>= 1).
  int concurrency = 10;
  /// Requests to send in all (>= 0).
  std::int64_t total = 100;
  /// Whole-transfer timeout of each request, connect included; <= 0: none.
  std::int64_t timeout_ms = 30000;
  /// Response bytes kept per request; longer bodies are cut (body_truncated).
  std::size_t max_body_bytes = 1u << 20;
  bool verify_tls = true;
  std::string user_agent = "weft-load/0.1";
  /// How often run() calls `tick` at least, in ms.
  int tick_ms = 100;
};

/// One request's outcome. A transport failure (refused, timeout, reset,
/// cancelled) is a sample too, with response.error set.
struct http_load_sample {
  std::int64_t index = 0;  // the `i` make() was called with
  http_response response;
  double latency_ms = 0;
  /// From the same start: the response head's first byte (libcurl's
  /// "start transfer" time), and the body's first byte. For a stream of
  /// events that the server writes whole, the latter is the time to the
  /// first event. 0 when the transfer never got that far.
  double first_byte_ms = 0;
  double first_body_ms = 0;
  bool body_truncated = false;
};

struct http_load_stats {
  std::int64_t sent = 0;      // requests make() built; each got one sample
  std::int64_t answered = 0;  // of those, the ones the server answered (any status)
  /// New connections libcurl opened (CURLINFO_NUM_CONNECTS summed): equals
  /// `concurrency` when keep-alive works, more when the server closes them.
  std::int64_t connections_opened = 0;
  int max_in_flight = 0;
  double duration_s = 0;  // first request added to last sample delivered
};

class http_load {
 public:
  /// Builds request `i` (0 <= i < total, in order).
  using make_fn = std::function<http_request(std::int64_t i)>;
  /// Receives each sample as its request ends.
  using done_fn = std::function<void(http_load_sample&&)>;
  /// Called every tick_ms or so while run() waits, e.g. to draw progress.
  using tick_fn = std::function<void()>;

  explicit http_load(http_load_config cfg);
  ~http_load();
  http_load(const http_load&) = delete;
  http_load& operator=(const http_load&) = delete;

  /// Sends the requests and blocks until each one sent has its sample, or
  /// until cancel(). Call it once per object. Every request made gets
  /// exactly one done() call, even when cancelled.
  http_load_stats run(const make_fn& make, const done_fn& done, const tick_fn& tick = {});

  /// Sends no new requests; those in flight finish and are reported.
  void stop() noexcept;
  /// stop(), and abandons the requests in flight: each is reported at once
  /// with transport_error::other, "cancelled".
  void cancel() noexcept;
  bool stopped() const noexcept { return stop_.load(std::memory_order_relaxed); }

 private:
  http_load_config cfg_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cancel_{false};
  void* multi_ = nullptr;  // CURLM*, kept opaque so that curl.h stays out of this header
};

}  // namespace weft::net
