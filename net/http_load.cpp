#include "net/http_load.hpp"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include <curl/curl.h>

#include "net/curl_easy.hpp"

namespace weft::net {

namespace {

using detail::failure;
using clock = std::chrono::steady_clock;

double ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// One in-flight position. Its address is the easy handle's CURLOPT_PRIVATE
// and the callbacks' user pointer, so slots live behind unique_ptrs.
struct slot {
  CURLM* multi = nullptr;
  CURL* easy = nullptr;
  bool in_multi = false;
  std::int64_t index = 0;
  clock::time_point started;
  clock::time_point first_body;  // valid when got_body
  bool got_body = false;
  http_request request;  // owns the URL and body, which libcurl does not copy
  http_response response;
  curl_slist* headers = nullptr;
  std::size_t max_body = 0;
  bool truncated = false;
  char error_buffer[CURL_ERROR_SIZE] = {};

  explicit slot(CURLM* m) : multi(m), easy(curl_easy_init()) {}
  slot(const slot&) = delete;
  slot& operator=(const slot&) = delete;
  ~slot() {
    if (in_multi) curl_multi_remove_handle(multi, easy);
    if (easy) curl_easy_cleanup(easy);
    curl_slist_free_all(headers);
  }
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto& s = *static_cast<slot*>(user);
  std::size_t len = size * n;
  if (!s.got_body && len > 0) {
    s.got_body = true;
    s.first_body = clock::now();
  }
  std::size_t room = s.max_body - std::min(s.max_body, s.response.body.size());
  // Past the cap the body is read and dropped rather than failing the
  // transfer, so that the connection survives for the next request.
  if (len > room) s.truncated = true;
  s.response.body.append(data, std::min(len, room));
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  std::size_t len = size * n;
  detail::add_header_line(static_cast<slot*>(user)->response, std::string_view(data, len));
  return len;
}

void configure(slot& s, const http_load_config& cfg) {
  CURL* e = s.easy;
  auto& req = s.request;
  // Reset forgets the last request's options; the connection it used stays
  // in the multi handle's cache.
  curl_easy_reset(e);
  detail::configure_easy(e, req,
                         {.owner = &s,
                          .error_buffer = s.error_buffer,
                          .on_body = on_body,
                          .on_header = on_header,
                          .verify_tls = cfg.verify_tls,
                          .timeout_ms = cfg.timeout_ms,
                          .user_agent = cfg.user_agent.c_str()});
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));

  curl_slist_free_all(s.headers);
  s.headers = nullptr;
  for (auto& [name, value] : req.headers) s.headers = detail::append_header(s.headers, name, value);
  // After the caller's headers, so this wins over any Expect they set: the
  // 100-continue round trip would be measured as server latency.
  s.headers = curl_slist_append(s.headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headers);
}

}  // namespace

http_load::http_load(http_load_config cfg) : cfg_(std::move(cfg)) {
  cfg_.concurrency = std::max(1, cfg_.concurrency);
  cfg_.tick_ms = std::max(1, cfg_.tick_ms);
  detail::init_curl_once();
  CURLM* m = curl_multi_init();
  if (!m) return;  // run() reports every request as failed
  const long c = cfg_.concurrency;
  curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, c);
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, c);
  // The idle cache must hold every slot's connection, or a lull would close
  // some and the next burst would measure new handshakes.
  curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, c);
  curl_multi_setopt(m, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
  multi_ = m;
}

http_load::~http_load() {
  if (multi_) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void http_load::stop() noexcept {
  stop_.store(true);
  if (multi_) curl_multi_wakeup(static_cast<CURLM*>(multi_));
}

void http_load::cancel() noexcept {
  cancel_.store(true);
  stop();
}

http_load_stats http_load::run(const make_fn& make, const done_fn& done, const tick_fn& tick) {
  http_load_stats st;
  auto* multi = static_cast<CURLM*>(multi_);
  std::int64_t next = 0;
  int in_flight = 0;
  const auto t0 = clock::now();
  auto t_end = t0;

  auto report = [&](std::int64_t i, http_response r, double latency_ms, bool truncated,
                    double first_byte_ms = 0, double first_body_ms = 0) {
    if (r.error == transport_error::none) ++st.answered;
    done(http_load_sample{i, std::move(r), latency_ms, first_byte_ms, first_body_ms, truncated});
    t_end = clock::now();
  };

  // Puts the next request into `s`; false when none is left to send. A
  // request that cannot be sent is reported at once and the next one tried.
  auto launch = [&](slot& s) -> bool {
    while (!stop_.load(std::memory_order_relaxed) && next < cfg_.total) {
      const std::int64_t i = next++;
      ++st.sent;
      s.request = make(i);
      s.index = i;
      if (auto why = detail::invalid(s.request)) {
        report(i, failure(transport_error::other, std::move(*why)), 0, false);
        continue;
      }
      if (!multi || !s.easy) {
        report(i, failure(transport_error::other, "libcurl could not be initialised"), 0, false);
        continue;
      }
      s.response = http_response{};
      s.truncated = false;
      s.got_body = false;
      s.error_buffer[0] = '\0';
      s.max_body = cfg_.max_body_bytes;
      configure(s, cfg_);
      s.started = clock::now();
      if (auto rc = curl_multi_add_handle(multi, s.easy); rc != CURLM_OK) {
        report(i, failure(transport_error::other, curl_multi_strerror(rc)), 0, false);
        continue;
      }
      s.in_multi = true;
      st.max_in_flight = std::max(st.max_in_flight, ++in_flight);
      return true;
    }
    return false;
  };

  auto finish = [&](slot& s, CURLcode code, clock::time_point now) {
    curl_multi_remove_handle(multi, s.easy);
    s.in_multi = false;
    --in_flight;
    long conns = 0;
    curl_easy_getinfo(s.easy, CURLINFO_NUM_CONNECTS, &conns);
    st.connections_opened += conns;
    http_response r;
    if (code == CURLE_OK) {
      r = std::move(s.response);
      curl_easy_getinfo(s.easy, CURLINFO_RESPONSE_CODE, &r.status);
    } else {
      r = failure(code, s.error_buffer);
    }
    // libcurl's start-transfer time counts from its own start, a few
    // microseconds after `started`; close enough for a figure in ms.
    curl_off_t head_us = 0;
    curl_easy_getinfo(s.easy, CURLINFO_STARTTRANSFER_TIME_T, &head_us);
    report(s.index, std::move(r), ms_between(s.started, now), s.truncated,
           static_cast<double>(head_us) / 1000.0,
           s.got_body ? ms_between(s.started, s.first_body) : 0);
  };

  std::vector<std::unique_ptr<slot>> slots;
  const auto width = static_cast<std::int64_t>(cfg_.concurrency);
  for (std::int64_t k = 0; k < std::min(width, cfg_.total); ++k) {
    slots.push_back(std::make_unique<slot>(multi));
    if (!launch(*slots.back())) break;
  }

  auto next_tick = clock::now() + std::chrono::milliseconds(cfg_.tick_ms);
  while (in_flight > 0) {
    if (cancel_.load()) {
      auto now = clock::now();
      for (auto& s : slots) {
        if (!s->in_multi) continue;
        curl_multi_remove_handle(multi, s->easy);
        s->in_multi = false;
        --in_flight;
        report(s->index, failure(transport_error::other, "cancelled"), ms_between(s->started, now),
               false);
      }
      break;
    }
    int running = 0;
    curl_multi_perform(multi, &running);
    // One clock read for every transfer this perform finished: they all
    // ended before it, and done() for the first must not delay the others.
    const auto now = clock::now();
    bool refilled = false;
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      char* priv = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
      CURLcode code = m->data.result;  // m dies with remove_handle in finish()
      auto& s = *reinterpret_cast<slot*>(priv);
      finish(s, code, now);
      refilled = launch(s) || refilled;
    }
    if (tick && now >= next_tick) {
      tick();
      next_tick = now + std::chrono::milliseconds(cfg_.tick_ms);
    }
    // New requests start sending on the next perform, not after a poll.
    if (refilled || in_flight == 0) continue;
    curl_multi_poll(multi, nullptr, 0, cfg_.tick_ms, nullptr);
  }
  st.duration_s = std::chrono::duration<double>(t_end - t0).count();
  return st;
}

}  // namespace weft::net
