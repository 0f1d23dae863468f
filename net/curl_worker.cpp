#include "net/curl_worker.hpp"

#include <algorithm>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <curl/curl.h>

#include "net/curl_common.hpp"

namespace weft::net {

namespace {

using detail::failure;

// Idle easy handles kept for reuse. More than this are freed: a burst of
// thousands of requests should not pin thousands of handles forever.
constexpr std::size_t easy_pool_limit = 256;

// curl_multi_poll also wakes for libcurl's own timers and for
// curl_multi_wakeup, so this only bounds how long a lost wakeup could stall.
constexpr int poll_timeout_ms = 1000;

// One request on its way through libcurl. Its address is the easy handle's
// CURLOPT_PRIVATE and the callbacks' user pointer, so it must not move.
struct transfer {
  std::uint64_t token = 0;
  http_request request;
  http_response response;
  curl_slist* header_list = nullptr;
  std::size_t max_body = 0;
  std::size_t keep_body = 0;  // > 0: keep this much, discard the rest
  bool body_too_large = false;
  char error_buffer[CURL_ERROR_SIZE] = {};

  transfer() = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;
  ~transfer() { curl_slist_free_all(header_list); }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<transfer*>(user);
  std::size_t len = size * n;
  if (t.keep_body > 0) {
    const std::size_t room = t.keep_body - std::min(t.keep_body, t.response.body.size());
    if (len > room) t.response.body_truncated = true;
    t.response.body.append(data, std::min(len, room));
    return len;  // the rest is read and dropped: the transfer goes on
  }
  if (t.response.body.size() + len > t.max_body) {
    t.body_too_large = true;
    return 0;  // makes libcurl abort with CURLE_WRITE_ERROR
  }
  t.response.body.append(data, len);
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  std::size_t len = size * n;
  detail::add_header_line(static_cast<transfer*>(user)->response, std::string_view(data, len));
  return len;
}

}  // namespace

struct curl_worker::core {
  http_client_config cfg;
  completion_fn on_complete;
  CURLM* multi = nullptr;

  // Shared between the submitting thread and the worker thread.
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, http_request>> inbox;
  bool stopping = false;

  // The worker thread's alone.
  std::vector<CURL*> idle;
  std::unordered_map<CURL*, std::unique_ptr<transfer>> active;

  core(const http_client_config& c, completion_fn f) : cfg(c), on_complete(std::move(f)) {
    detail::init_curl_once();
    multi = curl_multi_init();
    if (!multi) return;
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, cfg.max_connections_per_host);
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cfg.max_total_connections);
    // The idle-connection cache; by default libcurl sizes it from the number
    // of easy handles, which would close connections after a lull.
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, cfg.max_total_connections);
  }

  ~core() {
    drop_active();
    for (CURL* e : idle) curl_easy_cleanup(e);
    if (multi) curl_multi_cleanup(multi);
  }

  void run() {
    std::vector<std::pair<std::uint64_t, http_request>> batch;
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu);
        if (stopping) break;
        batch.swap(inbox);
      }
      for (auto& [token, req] : batch) start(token, std::move(req));
      batch.clear();
      int running = 0;
      curl_multi_perform(multi, &running);
      finish_done();
      curl_multi_poll(multi, nullptr, 0, poll_timeout_ms, nullptr);
    }
    drop_active();
  }

  void start(std::uint64_t token, http_request req) {
    if (auto why = detail::invalid(req)) {
      on_complete(token, failure(transport_error::other, std::move(*why)));
      return;
    }
    auto t = std::make_unique<transfer>();
    t->token = token;
    t->request = std::move(req);
    t->max_body = cfg.max_response_bytes;
    t->keep_body = std::min(t->request.keep_body_bytes, cfg.max_response_bytes);
    CURL* e = take_easy();
    if (!e) {
      on_complete(token, failure(transport_error::other, "curl_easy_init failed"));
      return;
    }
    configure(e, *t);
    if (auto rc = curl_multi_add_handle(multi, e); rc != CURLM_OK) {
      give_back(e);
      on_complete(token, failure(transport_error::other, curl_multi_strerror(rc)));
      return;
    }
    active.emplace(e, std::move(t));
  }

  void configure(CURL* e, transfer& t) {
    auto& req = t.request;
    // POSTFIELDS does not copy: the body lives in the transfer.
    detail::configure_easy(e, req,
                           {.owner = &t,
                            .error_buffer = t.error_buffer,
                            .on_body = on_body,
                            .on_header = on_header,
                            .verify_tls = cfg.verify_tls,
                            .timeout_ms = req.timeout_ms,
                            .user_agent = cfg.user_agent.c_str()});

    bool has_expect = false;
    for (auto& [name, value] : req.headers) {
      has_expect = has_expect || detail::iequals(name, "Expect");
      t.header_list = detail::append_header(t.header_list, name, value);
    }
    // libcurl sends "Expect: 100-continue" for large bodies and then waits up
    // to a second for servers that never answer it; collectors don't need it.
    if (!has_expect) t.header_list = curl_slist_append(t.header_list, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.header_list);
  }

  void finish_done() {
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      CURL* e = m->easy_handle;
      CURLcode code = m->data.result;  // m dies with remove_handle below
      auto it = active.find(e);
      if (it == active.end()) continue;
      std::unique_ptr<transfer> t = std::move(it->second);
      active.erase(it);
      curl_multi_remove_handle(multi, e);

      http_response r;
      if (code == CURLE_OK) {
        r = std::move(t->response);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
      } else if (t->body_too_large) {
        r = failure(transport_error::other, "response body larger than " +
                                                std::to_string(cfg.max_response_bytes) + " bytes");
      } else {
        r = failure(code, t->error_buffer);
      }
      give_back(e);
      on_complete(t->token, std::move(r));
    }
  }

  CURL* take_easy() {
    if (idle.empty()) return curl_easy_init();
    CURL* e = idle.back();
    idle.pop_back();
    return e;
  }

  // Reset forgets the options but keeps what makes reuse worth it (DNS and
  // session caches); live connections belong to the multi handle anyway.
  void give_back(CURL* e) {
    if (idle.size() >= easy_pool_limit) {
      curl_easy_cleanup(e);
      return;
    }
    curl_easy_reset(e);
    idle.push_back(e);
  }

  void drop_active() {
    for (auto& [e, t] : active) {
      curl_multi_remove_handle(multi, e);
      curl_easy_cleanup(e);
    }
    active.clear();
  }
};

curl_worker::curl_worker(const http_client_config& cfg, completion_fn on_complete)
    : core_(std::make_shared<core>(cfg, std::move(on_complete))) {
  if (!core_->multi) return;  // submit() answers every request with an error
  thread_ = std::thread([c = core_] { c->run(); });
}

curl_worker::~curl_worker() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lk(core_->mu);
    core_->stopping = true;
  }
  curl_multi_wakeup(core_->multi);
  // If the completion callback released the last reference to our owner, we
  // are on the worker thread itself and cannot join it; it holds its own
  // reference to the core and exits right after the callback returns.
  if (thread_.get_id() == std::this_thread::get_id())
    thread_.detach();
  else
    thread_.join();
}

void curl_worker::submit(std::uint64_t token, http_request req) {
  if (!thread_.joinable()) {
    core_->on_complete(token, failure(transport_error::other, "curl_multi_init failed"));
    return;
  }
  bool was_empty;
  {
    std::lock_guard<std::mutex> lk(core_->mu);
    was_empty = core_->inbox.empty();
    core_->inbox.emplace_back(token, std::move(req));
  }
  // A non-empty inbox means a wakeup is already on its way: the worker
  // empties the inbox under the lock before it polls again.
  if (was_empty) curl_multi_wakeup(core_->multi);
}

}  // namespace weft::net
