#include "net/http_load.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <curl/curl.h>

namespace weft::net {

namespace {

using clock = std::chrono::steady_clock;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

http_response failure(transport_error e, std::string message) {
  http_response r;
  r.error = e;
  r.error_message = std::move(message);
  return r;
}

transport_error classify(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_CONNECT: return transport_error::connect;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return transport_error::dns;
    case CURLE_OPERATION_TIMEDOUT: return transport_error::timeout;
    default: return transport_error::other;
  }
}

// RFC 9110 tokens and field values, as http_client checks them: a bad value
// (an API key read from the environment with a newline in it, say) must not
// smuggle extra headers onto a shared connection.
bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (c <= 32 || c >= 127 || std::strchr("\"(),/:;<=>?@[\\]{}", c)) return false;
  return true;
}

bool is_field_value(std::string_view s) {
  for (unsigned char c : s)
    if (c == '\r' || c == '\n' || c == '\0') return false;
  return true;
}

// Why the request cannot be sent, naming no header value.
std::optional<std::string> invalid(const http_request& req) {
  if (!is_token(req.method)) return "invalid HTTP method";
  for (auto& [name, value] : req.headers) {
    if (!is_token(name)) return "invalid request header name";
    if (!is_field_value(value)) return "invalid value for request header " + name;
  }
  return std::nullopt;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

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
  std::size_t room = s.max_body - std::min(s.max_body, s.response.body.size());
  // Past the cap the body is read and dropped rather than failing the
  // transfer, so that the connection survives for the next request.
  if (len > room) s.truncated = true;
  s.response.body.append(data, std::min(len, room));
  return len;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto& s = *static_cast<slot*>(user);
  std::size_t len = size * n;
  std::string_view line(data, len);
  // Only the final response's headers count (not those of a 1xx).
  if (line.starts_with("HTTP/")) {
    s.response.headers.clear();
    return len;
  }
  auto colon = line.find(':');
  if (colon == std::string_view::npos) return len;
  s.response.headers.emplace_back(std::string(trim(line.substr(0, colon))),
                                  std::string(trim(line.substr(colon + 1))));
  return len;
}

void configure(slot& s, const http_load_config& cfg) {
  CURL* e = s.easy;
  auto& req = s.request;
  // Reset forgets the last request's options; the connection it used stays
  // in the multi handle's cache.
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_PRIVATE, &s);
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg.verify_tls ? 2L : 0L);
  if (cfg.timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg.timeout_ms));
  curl_easy_setopt(e, CURLOPT_USERAGENT, cfg.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s.error_buffer);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &s);

  if (req.method == "GET") {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else {
    if (req.method == "POST" || !req.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, req.body.data());
    }
    if (req.method != "POST") curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  curl_slist_free_all(s.headers);
  s.headers = nullptr;
  for (auto& [name, value] : req.headers) {
    // "Name;" is libcurl's spelling of a header with an empty value.
    std::string line = value.empty() ? name + ";" : name + ": " + value;
    s.headers = curl_slist_append(s.headers, line.c_str());
  }
  // After the caller's headers, so this wins over any Expect they set: the
  // 100-continue round trip would be measured as server latency.
  s.headers = curl_slist_append(s.headers, "Expect:");
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, s.headers);
}

}  // namespace

http_load::http_load(http_load_config cfg) : cfg_(std::move(cfg)) {
  cfg_.concurrency = std::max(1, cfg_.concurrency);
  cfg_.tick_ms = std::max(1, cfg_.tick_ms);
  init_curl_once();
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

  auto report = [&](std::int64_t i, http_response r, double latency_ms, bool truncated) {
    if (r.error == transport_error::none) ++st.answered;
    done(http_load_sample{i, std::move(r), latency_ms, truncated});
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
      if (auto why = invalid(s.request)) {
        report(i, failure(transport_error::other, std::move(*why)), 0, false);
        continue;
      }
      if (!multi || !s.easy) {
        report(i, failure(transport_error::other, "libcurl could not be initialised"), 0, false);
        continue;
      }
      s.response = http_response{};
      s.truncated = false;
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
      // The error buffer names host and port, never request headers.
      std::string msg = curl_easy_strerror(code);
      if (s.error_buffer[0] != '\0') msg += std::string(": ") + s.error_buffer;
      r = failure(classify(code), std::move(msg));
    }
    report(s.index, std::move(r), ms_between(s.started, now), s.truncated);
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
