// The engine's HTTP client for components (node_context::http), shared by
// every run of an engine and spawned on first use.
#pragma once

#include <functional>
#include <mutex>

#include <caf/all.hpp>

#include "net/http_client.hpp"

namespace weft::actors {

/// The engine's HTTP client for components (node_context::http): one per
/// engine, shared by all its runs, spawned on first use by whichever node
/// asks first, on whatever scheduler thread that is. The engine owns it and
/// hands it to runs through run_job and run_context (no global).
class component_http {
 public:
  explicit component_http(std::function<net::http_client_actor()> spawn)
      : spawn_(std::move(spawn)) {}
  /// The client, spawned now if this is the first call; null once closed.
  net::http_client_actor get() {
    std::lock_guard<std::mutex> lk(mu_);
    if (!client_ && !closed_ && spawn_) client_ = spawn_();
    return client_;
  }
  /// Hands out nothing from now on; returns the client if it was started.
  net::http_client_actor close() {
    std::lock_guard<std::mutex> lk(mu_);
    closed_ = true;
    spawn_ = nullptr;
    return std::exchange(client_, net::http_client_actor{});
  }
  bool started() const {
    std::lock_guard<std::mutex> lk(mu_);
    return static_cast<bool>(client_);
  }

 private:
  mutable std::mutex mu_;
  std::function<net::http_client_actor()> spawn_;
  net::http_client_actor client_;
  bool closed_ = false;
};

}  // namespace weft::actors
