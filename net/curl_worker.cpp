#include "net/curl_worker.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <curl/curl.h>

#include "net/curl_easy.hpp"

namespace weft::net {

namespace {

using detail::failure;

// Idle easy handles kept for reuse. More than this are freed: a burst of
// thousands of requests should not pin thousands of handles forever.
constexpr std::size_t easy_pool_limit = 256;

// curl_multi_poll also wakes for libcurl's own timers and for
// curl_multi_wakeup, so this only bounds how long a lost wakeup could stall.
constexpr int poll_timeout_ms = 1000;
// While a streamed transfer is paused, how often the worker looks whether
// its reader has made room. Readers return room by destroying chunks, which
// wakes nobody, so this is a poll; it only runs while something is paused.
constexpr int paused_poll_ms = 5;

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

  // Streaming (on_chunk set): the bytes handed out so far, the bytes handed
  // out and not yet consumed (shared with the chunks' credits), and whether
  // the write callback paused the transfer because that window was full.
  curl_worker::chunk_fn on_chunk;
  std::size_t streamed = 0;
  std::shared_ptr<std::atomic<std::size_t>> window;
  std::size_t window_limit = 0;
  bool paused = false;
  bool* any_paused = nullptr;  // the worker's flag: look at paused transfers

  transfer() = default;
  transfer(const transfer&) = delete;
  transfer& operator=(const transfer&) = delete;
  ~transfer() { curl_slist_free_all(header_list); }
};

std::size_t stream_body(transfer& t, char* data, std::size_t len) {
  if (t.streamed + len > t.max_body) {
    t.body_too_large = true;
    return 0;
  }
  // A window that is not empty and would overflow pauses the transfer:
  // libcurl keeps this piece and offers it again once resumed. An empty
  // window always takes the piece, so a piece larger than the window (at
  // most CURL_MAX_WRITE_SIZE, unless decompressing) cannot stall forever.
  const std::size_t held = t.window->load(std::memory_order_acquire);
  if (held > 0 && held + len > t.window_limit) {
    t.paused = true;
    *t.any_paused = true;
    return CURL_WRITEFUNC_PAUSE;
  }
  t.window->fetch_add(len, std::memory_order_acq_rel);
  t.streamed += len;
  http_chunk c;
  c.bytes.assign(data, len);
  c.credit = std::shared_ptr<void>(
      nullptr, [w = t.window, len](void*) { w->fetch_sub(len, std::memory_order_acq_rel); });
  t.on_chunk(std::move(c));
  return len;
}

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto& t = *static_cast<transfer*>(user);
  std::size_t len = size * n;
  if (t.on_chunk) return stream_body(t, data, len);
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
  struct submission {
    std::uint64_t token;
    http_request req;
    chunk_fn on_chunk;
  };
  std::mutex mu;
  std::vector<submission> inbox;
  std::vector<std::uint64_t> aborts;
  bool stopping = false;

  // The worker thread's alone.
  std::vector<CURL*> idle;
  std::unordered_map<CURL*, std::unique_ptr<transfer>> active;
  std::unordered_map<std::uint64_t, CURL*> by_token;
  bool any_paused = false;

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
    std::vector<submission> batch;
    std::vector<std::uint64_t> stop;
    for (;;) {
      {
        std::lock_guard<std::mutex> lk(mu);
        if (stopping) break;
        batch.swap(inbox);
        stop.swap(aborts);
      }
      // Starts before aborts: an abort always follows its own submission,
      // possibly within the same batch.
      for (auto& s : batch) start(s.token, std::move(s.req), std::move(s.on_chunk));
      batch.clear();
      for (auto token : stop) abort_now(token);
      stop.clear();
      if (any_paused) resume_drained();
      int running = 0;
      curl_multi_perform(multi, &running);
      finish_done();
      curl_multi_poll(multi, nullptr, 0, any_paused ? paused_poll_ms : poll_timeout_ms, nullptr);
    }
    drop_active();
  }

  // Not inside a libcurl callback (which must not remove handles): between
  // two curl_multi_perform calls on the worker thread.
  void abort_now(std::uint64_t token) {
    auto b = by_token.find(token);
    if (b == by_token.end()) return;  // finished already: its answer is on its way
    CURL* e = b->second;
    by_token.erase(b);
    curl_multi_remove_handle(multi, e);
    active.erase(e);
    give_back(e);
  }

  // Resumes the paused transfers whose readers consumed half their window.
  // Resuming may deliver data (and pause again) from inside curl_easy_pause.
  void resume_drained() {
    any_paused = false;
    for (auto& [e, t] : active) {
      if (!t->paused) continue;
      if (t->window->load(std::memory_order_acquire) <= t->window_limit / 2) {
        t->paused = false;
        curl_easy_pause(e, CURLPAUSE_CONT);
      }
      if (t->paused) any_paused = true;
    }
  }

  void start(std::uint64_t token, http_request req, chunk_fn on_chunk) {
    if (auto why = detail::invalid(req)) {
      on_complete(token, failure(transport_error::invalid, std::move(*why)));
      return;
    }
    auto t = std::make_unique<transfer>();
    t->token = token;
    t->request = std::move(req);
    t->max_body = cfg.max_response_bytes;
    t->keep_body = std::min(t->request.keep_body_bytes, cfg.max_response_bytes);
    if (on_chunk) {
      t->on_chunk = std::move(on_chunk);
      t->window = std::make_shared<std::atomic<std::size_t>>(0);
      t->window_limit = std::max<std::size_t>(cfg.stream_window_bytes, 1);
      t->any_paused = &any_paused;
    }
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
    by_token.emplace(token, e);
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
      by_token.erase(t->token);
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
    by_token.clear();
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
  if (thread_.get_id() == std::this_thread::get_id()) thread_.detach();
  else thread_.join();
}

void curl_worker::submit(std::uint64_t token, http_request req, chunk_fn on_chunk) {
  if (!thread_.joinable()) {
    core_->on_complete(token, failure(transport_error::other, "curl_multi_init failed"));
    return;
  }
  bool was_empty;
  {
    std::lock_guard<std::mutex> lk(core_->mu);
    was_empty = core_->inbox.empty() && core_->aborts.empty();
    core_->inbox.push_back({token, std::move(req), std::move(on_chunk)});
  }
  // A non-empty inbox means a wakeup is already on its way: the worker
  // empties the inbox under the lock before it polls again.
  if (was_empty) curl_multi_wakeup(core_->multi);
}

void curl_worker::abort(std::uint64_t token) {
  if (!thread_.joinable()) return;
  bool was_empty;
  {
    std::lock_guard<std::mutex> lk(core_->mu);
    was_empty = core_->inbox.empty() && core_->aborts.empty();
    core_->aborts.push_back(token);
  }
  if (was_empty) curl_multi_wakeup(core_->multi);
}

}  // namespace weft::net
