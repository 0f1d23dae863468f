// Internal to net/: what the acceptor (http_server.cpp) and the connection
// brokers (http_connection.cpp) share. Not for use outside net/.
#pragma once

#include <atomic>
#include <chrono>
#include <mutex>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "net/http_server.hpp"

namespace weft::net {

struct http_server::shared {
  http_server_config cfg;
  request_handler handler;
  std::uint16_t port = 0;
  std::atomic<std::size_t> connections{0};
  std::atomic<std::size_t> in_flight{0};
  /// Request bodies admitted and not yet answered, plus answer bytes not yet
  /// taken by the kernel, over every connection (max_buffered_bytes).
  std::atomic<std::size_t> buffered{0};
  std::atomic<std::uint64_t> answers_dropped{0};
  std::atomic<std::uint64_t> forced_closes{0};
  std::atomic<std::uint64_t> busy_refusals{0};
  std::atomic<std::uint64_t> stream_overflows{0};
  std::atomic<bool> draining{false};
  caf::actor acceptor;
  std::mutex mu;
  bool drained = false;

  /// Reserves `n` bytes of the process-wide budget, or false when they do not fit.
  bool reserve(std::size_t n) {
    auto cur = buffered.load(std::memory_order_relaxed);
    do {
      if (cur + n > cfg.max_buffered_bytes) return false;
    } while (!buffered.compare_exchange_weak(cur, cur + n, std::memory_order_relaxed));
    return true;
  }
  void release(std::size_t n) { buffered.fetch_sub(n, std::memory_order_relaxed); }
};

namespace detail {

using server_clock = std::chrono::steady_clock;
using server_shared_ptr = std::shared_ptr<http_server::shared>;

// The messages between the acceptor, the connections and answering threads.
using reply_atom = caf::atom_constant<caf::atom("hReply")>;
using timer_atom = caf::atom_constant<caf::atom("hTimer")>;
using drain_atom = caf::atom_constant<caf::atom("hDrain")>;
using close_atom = caf::atom_constant<caf::atom("hClose")>;  // now, whatever is pending
using resume_atom = caf::atom_constant<caf::atom("hResume")>;

/// Forks the broker of one accepted connection off the acceptor.
caf::actor fork_connection(caf::io::broker* acceptor, caf::io::connection_handle hdl,
                           server_shared_ptr sh);

}  // namespace detail

}  // namespace weft::net
