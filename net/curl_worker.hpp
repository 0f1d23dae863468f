// The thread behind http_client: it owns one libcurl multi handle and runs
// every transfer on it. Internal to net/; see http_client.hpp for why it
// exists. It knows nothing of CAF: results leave through a callback that the
// worker thread invokes and that must not block.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "net/http_client.hpp"
#include "net/http_types.hpp"

namespace weft::net {

class curl_worker {
 public:
  /// Called on the worker thread, once per submitted request (never for an
  /// aborted one).
  using completion_fn = std::function<void(std::uint64_t token, http_response)>;
  /// Called on the worker thread with each piece of a streamed body, in
  /// order, before the completion; must not block.
  using chunk_fn = std::function<void(http_chunk)>;

  /// Starts the thread.
  curl_worker(const http_client_config& cfg, completion_fn on_complete);

  /// Stops the thread and drops transfers in flight without calling
  /// on_complete for them. Joins the thread, unless called from inside
  /// on_complete, in which case the thread finishes on its own.
  ~curl_worker();

  curl_worker(const curl_worker&) = delete;
  curl_worker& operator=(const curl_worker&) = delete;

  /// Queues a request and wakes the thread; never waits for the network.
  /// With `on_chunk`, the body goes to it as it arrives, at most
  /// cfg.stream_window_bytes of it unconsumed at a time (the transfer
  /// pauses beyond), and the completion carries an empty body.
  void submit(std::uint64_t token, http_request req, chunk_fn on_chunk = {});

  /// Stops transfer `token` at once: its easy handle leaves the multi
  /// handle (which closes the connection of an unfinished HTTP/1 transfer,
  /// so the server sees it), and neither on_chunk nor on_complete is called
  /// for it again. A token already finished or unknown is ignored.
  void abort(std::uint64_t token);

 private:
  // The thread shares ownership of everything it touches, so that it can
  // outlive this object in the one case where it must (see the destructor).
  struct core;
  std::shared_ptr<core> core_;
  std::thread thread_;
};

}  // namespace weft::net
