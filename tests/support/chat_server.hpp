// An OpenAI Chat Completions server for tests and benchmarks of LLM clients
// (llm.chat): the real protocol over real sockets on 127.0.0.1, one thread,
// poll(), non-blocking sockets and keep-alive, so thousands of connections
// (parked streams included) cost no thread each.
//
//   chat_server s;                       // ephemeral port
//   s.base_url();                        // "http://127.0.0.1:PORT/v1"
//   s.push(chat_reply::text("hello world"));           // the next request's answer
//   s.push(chat_reply::error(429));                    // then this one
//   s.on_request([](const chat_request& r) { ... });   // then this, for every request
//
// POST /v1/chat/completions is answered by the next pushed reply while the
// queue holds one, else by the handler (by default: the completion "ok",
// or 400 when the body is not JSON). The handler runs on the server thread
// when the whole request has arrived (so what it shares with the test needs
// a lock or an atomic); an exception from it becomes a 500.
// chat_reply::text(s), ::tools(calls) and ::error(status[, message]) build
// the usual replies; aggregate initialisation works too.
// Any other path gets a 404 JSON error (405 for another method) and
// consumes nothing. Each answer carries "x-request-id: req_test_<index>".
//
// chat_reply, field by field:
//   status          the HTTP status (200). Not 200: a JSON error body, never a
//                   stream.
//   headers         extra answer headers, e.g. {"retry-after-ms", "50"},
//                   {"retry-after", "1"}, {"x-should-retry", "false"}. A
//                   Content-Type here replaces the server's.
//   error_body      the body of a non-200 answer; default
//                   {"error":{"message","type","param","code"}} as OpenAI
//                   words it for that status.
//   delay           wait this long before the answer's head.
//   close           answer with "Connection: close" and close afterwards.
//   id              "chatcmpl-test-<index>" unless set.
//   model           the request's "model" unless set ("gpt-test" without one).
//   content         the assistant text; unset = null (a pure tool-call reply).
//                   Text is sent as it is: bytes that are not UTF-8 go out
//                   unchanged (for tests of clients that meet them).
//   tool_calls      {id, name, arguments}: arguments is the JSON text, sent as
//                   a string as OpenAI does.
//   finish_reason   "stop", or "tool_calls" when tool_calls is not empty.
//   usage           {prompt_tokens = 10, completion_tokens = 5, cached_tokens
//                   -> usage.prompt_tokens_details.cached_tokens,
//                   reasoning_tokens ->
//                   usage.completion_tokens_details.reasoning_tokens};
//                   total_tokens is the sum. send_usage = false leaves usage
//                   out of the body and the stream.
//   raw_json        the whole body of a 200 JSON answer, verbatim.
// Streaming: when the request has "stream": true (or the reply sets
// stream = true / false to override it) a 200 answer is text/event-stream,
// chunked, one HTTP chunk per event, each event "data: <json>\n\n":
//   1. a chunk with delta {role: "assistant", content: "" (null without
//      content)};
//   2. the content, one delta per piece: `deltas` if given (verbatim),
//      else content cut into `content_chunks` pieces of about equal size
//      (never inside a UTF-8 character), or with content_chunks = 0 one
//      piece per word (" world" keeps its leading space; the pieces always
//      join to content);
//   3. per tool call (its `index` is its position), `argument_fragments`
//      fragments of its arguments (3 by default, fewer for short ones): the
//      first carries id, type and function.name, the rest only
//      function.arguments;
//   4. a chunk with delta {} and finish_reason;
//   5. when the request had stream_options.include_usage true: a chunk with
//      "choices": [] and usage (every other chunk then has "usage": null);
//   6. data: [DONE].
//   raw_events      instead of 1-6, these events, each written verbatim
//                   (include "data: " and the blank line yourself: comments,
//                   CRLF endings, event: lines...). Faults below count them.
// Stream faults; "after N events" means once N of the events above have been
// sent (0 = right after the head):
//   interval                the pause before each event after the first.
//   write_split             write the whole answer (head, framing and all) in
//                           pieces of this many bytes, `split_pause` (200 µs)
//                           apart, so the client reads events cut anywhere.
//                           Works for JSON too. 0: each event is written when
//                           due, so without an interval the whole stream
//                           (up to a fault) goes out in one write.
//   truncate_after_events   end the body cleanly (the last chunk) there: no
//                           [DONE], the connection stays usable.
//   reset_after_events      flush what was sent, then close with SO_LINGER 0
//                           (an RST): the client sees a transport error.
//   malformed_after_events  insert "data: {not json\n\n" there; the stream
//                           then goes on as scripted.
//   error_event             (an N like the others) insert data: {"error":
//                           {"message": error_event_message, "type":
//                           "server_error", ...}} there, then end the body
//                           (as OpenAI does).
//   park_after_events       send no more: the connection stays open, costing
//                           nothing but its fd, until the client closes it.
//                           parked_streams() counts them.
// When several faults fall on the same N: malformed, error, truncate,
// reset, park, in that order. On a JSON (not streamed) answer, a set
// reset_after_events or park_after_events (whatever its N) means: reset the
// connection, or never answer, instead of sending the head.
//
// Recorded per request (requests(), request(i)): method, target, headers
// (header(name) is case-insensitive), body, json (discarded when the body
// is not JSON), index, arrival time, whether it was answered as a stream,
// the events sent, whether the whole answer was written, and, when the
// client closed the connection before that, when the server saw it
// (closed_early). set_recording(false) keeps only the counts, for
// benchmarks. Counters: request_count(), connections_accepted(),
// open_connections(), parked_streams(), closed_early_count(), queued();
// wait_for(pred, timeout) polls a predicate. Requests may come pipelined,
// with "Expect: 100-continue" (answered with 100 Continue) and with
// Content-Length bodies (chunked request bodies get 411). A client that
// half-closes its side is taken as gone.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <deque>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace weft::test {

struct chat_tool_call {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text
};

struct chat_token_usage {
  long prompt_tokens = 10;
  long completion_tokens = 5;
  std::optional<long> cached_tokens;
  std::optional<long> reasoning_tokens;
};

struct chat_request {
  using clock = std::chrono::steady_clock;
  std::string method, target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  nlohmann::json json;  // discarded when the body does not parse
  std::size_t index = 0;
  clock::time_point received{};
  bool stream = false;          // answered as an event stream
  std::size_t events_sent = 0;  // stream events written (injected ones not counted)
  bool answered = false;        // the whole answer was written
  /// When the server saw the client close the connection before the
  /// answer was complete.
  std::optional<clock::time_point> closed_early;

  std::optional<std::string> header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
    return std::nullopt;
  }
  /// The request's "model", or "" without one.
  std::string model() const {
    if (json.is_object())
      if (auto it = json.find("model"); it != json.end() && it->is_string())
        return it->get<std::string>();
    return {};
  }
};

struct chat_reply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::optional<std::string> error_body;
  std::chrono::milliseconds delay{0};
  bool close = false;

  std::optional<std::string> id;
  std::optional<std::string> model;
  std::optional<std::string> content;
  std::vector<chat_tool_call> tool_calls;
  std::optional<std::string> finish_reason;
  chat_token_usage usage;
  bool send_usage = true;
  std::optional<std::string> raw_json;

  std::optional<bool> stream;
  std::size_t content_chunks = 0;
  std::vector<std::string> deltas;
  std::size_t argument_fragments = 3;
  std::vector<std::string> raw_events;

  std::chrono::milliseconds interval{0};
  std::size_t write_split = 0;
  std::chrono::microseconds split_pause{200};
  std::optional<std::size_t> truncate_after_events;
  std::optional<std::size_t> reset_after_events;
  std::optional<std::size_t> malformed_after_events;
  std::optional<std::size_t> error_event;
  std::string error_event_message = "The server had an error while processing your request.";
  std::optional<std::size_t> park_after_events;

  static chat_reply text(std::string content) {
    chat_reply r;
    r.content = std::move(content);
    return r;
  }
  static chat_reply tools(std::vector<chat_tool_call> calls) {
    chat_reply r;
    r.tool_calls = std::move(calls);
    return r;
  }
  /// A non-200 answer with OpenAI's error body for that status (or
  /// `message` in it).
  static chat_reply error(int status, std::string message = {}) {
    chat_reply r;
    r.status = status;
    if (!message.empty()) r.error_body = error_json(status, message);
    return r;
  }

  /// {"error":{"message","type","param":null,"code"}} as OpenAI words it.
  static std::string error_json(int status, std::string_view message = {}) {
    std::string type = "invalid_request_error", code, msg;
    switch (status) {
      case 400:
        msg = "Invalid request.";
        break;
      case 401:
        msg = "Incorrect API key provided.";
        code = "invalid_api_key";
        break;
      case 403:
        msg = "You are not allowed to sample from this model.";
        break;
      case 404:
        msg = "The model does not exist or you do not have access to it.";
        code = "model_not_found";
        break;
      case 429:
        msg = "Rate limit reached for requests.";
        type = "requests";
        code = "rate_limit_exceeded";
        break;
      case 503:
        msg = "The engine is currently overloaded, please try again later.";
        type = "server_error";
        break;
      default:
        msg = "The server had an error while processing your request.";
        if (status >= 500) type = "server_error";
    }
    if (!message.empty()) msg = message;
    nlohmann::ordered_json j = {
        {"error",
         {{"message", msg},
          {"type", type},
          {"param", nullptr},
          {"code", code.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(code)}}}};
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  }
};

namespace chat_detail {

inline std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Payload Too Large";
    case 422:
      return "Unprocessable Entity";
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
    case 504:
      return "Gateway Timeout";
    default:
      return "Status";
  }
}

inline bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

inline void append_number(std::string& out, std::size_t n, int base = 10) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n, base);
  (void)ec;
  out.append(buf, p);
}

/// One HTTP chunk.
inline void append_chunk(std::string& out, std::string_view data) {
  append_number(out, data.size(), 16);
  out += "\r\n";
  out += data;
  out += "\r\n";
}

inline bool utf8_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

/// `s` cut into `n` pieces of about equal size, never inside a UTF-8
/// character; empty pieces are dropped (so "" gives none).
inline std::vector<std::string> split_even(std::string_view s, std::size_t n) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  n = std::max<std::size_t>(1, std::min(n, s.size()));
  std::size_t from = 0;
  for (std::size_t i = 1; i <= n; ++i) {
    std::size_t to = i == n ? s.size() : s.size() * i / n;
    while (to < s.size() && utf8_continuation(s[to])) ++to;
    if (to > from) out.emplace_back(s.substr(from, to - from));
    from = std::max(from, to);
  }
  return out;
}

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/// One piece per word, each after the first starting with the whitespace
/// before it: "hello big world" -> "hello", " big", " world".
inline std::vector<std::string> split_words(std::string_view s) {
  std::vector<std::string> out;
  std::size_t from = 0;
  for (std::size_t i = 1; i < s.size(); ++i)
    if (is_space(s[i]) && !is_space(s[i - 1])) {
      out.emplace_back(s.substr(from, i - from));
      from = i;
    }
  if (from < s.size()) out.emplace_back(s.substr(from));
  return out;
}

/// `v` as a JSON string. Bytes >= 0x80 pass through as they are (so a test
/// can send invalid UTF-8 on purpose).
inline void append_quoted(std::string& out, std::string_view v) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of bytes that need no escape
  for (std::size_t i = 0; i < v.size(); ++i) {
    auto ch = static_cast<unsigned char>(v[i]);
    if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
    out.append(v.data() + run, i - run);
    run = i + 1;
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += hex[ch >> 4];
        out += hex[ch & 15];
    }
  }
  out.append(v.data() + run, v.size() - run);
  out += '"';
}

inline void append_int(std::string& out, long n) {
  char buf[24];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n);
  (void)ec;
  out.append(buf, p);
}

inline void append_usage(std::string& out, const chat_token_usage& u) {
  out += "{\"prompt_tokens\":";
  append_int(out, u.prompt_tokens);
  out += ",\"completion_tokens\":";
  append_int(out, u.completion_tokens);
  out += ",\"total_tokens\":";
  append_int(out, u.prompt_tokens + u.completion_tokens);
  if (u.cached_tokens) {
    out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
    append_int(out, *u.cached_tokens);
    out += '}';
  }
  if (u.reasoning_tokens) {
    out += ",\"completion_tokens_details\":{\"reasoning_tokens\":";
    append_int(out, *u.reasoning_tokens);
    out += '}';
  }
  out += '}';
}

}  // namespace chat_detail

class chat_server {
 public:
  using clock = std::chrono::steady_clock;
  using handler = std::function<chat_reply(const chat_request&)>;

  chat_server() {
    handler_ = std::make_shared<const handler>(default_handler);
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (listen_fd_ < 0) throw std::runtime_error("chat_server: socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 4096) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("chat_server: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
      ::close(listen_fd_);
      throw std::runtime_error("chat_server: pipe failed");
    }
    thread_ = std::thread([this] { loop(); });
  }

  ~chat_server() {
    stop_ = true;
    char c = 1;
    [[maybe_unused]] auto n = ::write(wake_[1], &c, 1);
    thread_.join();
    for (auto& c2 : conns_) ::close(c2.fd);
    ::close(listen_fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  chat_server(const chat_server&) = delete;
  chat_server& operator=(const chat_server&) = delete;

  std::uint16_t port() const { return port_; }
  /// "http://127.0.0.1:PORT/v1", what an OpenAI client takes as base URL.
  std::string base_url() const { return url("/v1"); }
  std::string url(std::string_view target) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(target);
  }

  /// Answers every request the queue does not.
  void on_request(handler h) {
    auto p = std::make_shared<const handler>(h ? std::move(h) : handler(default_handler));
    std::lock_guard<std::mutex> lk(mu_);
    handler_ = std::move(p);
  }
  /// Answers the next request not yet answered by an earlier push.
  void push(chat_reply r) {
    std::lock_guard<std::mutex> lk(mu_);
    queue_.push_back(std::move(r));
  }
  std::size_t queued() const {
    std::lock_guard<std::mutex> lk(mu_);
    return queue_.size();
  }
  /// false: requests are counted but no longer kept (benchmarks).
  void set_recording(bool on) {
    std::lock_guard<std::mutex> lk(mu_);
    recording_ = on;
  }

  std::vector<chat_request> requests() const {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_;
  }
  /// The i-th recorded request (throws std::out_of_range).
  chat_request request(std::size_t i) const {
    std::lock_guard<std::mutex> lk(mu_);
    return requests_.at(i);
  }
  std::size_t request_count() const { return count_.load(); }
  std::size_t connections_accepted() const { return accepted_.load(); }
  std::size_t open_connections() const { return open_.load(); }
  std::size_t parked_streams() const { return parked_.load(); }
  /// Requests whose connection the client closed before their answer was
  /// complete (counted even when not recording).
  std::size_t closed_early_count() const { return closed_early_.load(); }

  bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds timeout) const {
    auto deadline = clock::now() + timeout;
    while (!pred()) {
      if (clock::now() >= deadline) return pred();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  /// The default handler: "ok", or OpenAI's 400 when the body is not JSON.
  static chat_reply default_handler(const chat_request& r) {
    if (r.json.is_discarded() || !r.json.is_object())
      return chat_reply::error(400, "We could not parse the JSON body of your request.");
    return chat_reply::text("ok");
  }

 private:
  static constexpr std::size_t max_head = 64 * 1024;
  static constexpr std::size_t max_body = 64 * 1024 * 1024;
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();

  enum class phase { reading, delaying, streaming, parked };

  struct conn {
    int fd = -1;
    std::string in, out;
    std::size_t sent = 0;  // of out
    phase ph = phase::reading;
    // The request being read.
    bool have_head = false, expect_continue = false, continue_sent = false, req_close = false;
    std::size_t scanned = 0, head_len = 0, body_len = 0;
    chat_request req;
    // The request being answered.
    bool answering = false, close_after = false, parked = false, reset_pending = false;
    std::size_t index = 0, slot = none;  // slot: its place in requests_
    bool req_stream = false, include_usage = false, stream = false, malformed_done = false;
    std::string model;
    chat_reply reply;
    std::vector<std::string> events;
    std::size_t ev = 0;
    clock::time_point due{};
    // write_split
    std::size_t split = 0;
    std::chrono::microseconds split_pause{0};
    bool split_wait = false;
    clock::time_point split_until{};

    bool out_empty() const { return sent == out.size(); }
    clock::time_point timer() const {
      if (!out_empty()) return split_wait ? split_until : clock::time_point::max();
      if (ph == phase::delaying || (ph == phase::streaming && !reset_pending)) return due;
      return clock::time_point::max();
    }
  };

  void loop() {
    std::vector<pollfd> fds;  // [0] wake, [1] listen, [2 + i] conns_[i]
    fds.push_back({wake_[0], POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    auto next = clock::time_point::max();
    while (!stop_) {
      timespec ts{}, *tsp = nullptr;
      if (next != clock::time_point::max()) {
        auto ns = std::max<long long>(
            0, std::chrono::duration_cast<std::chrono::nanoseconds>(next - clock::now()).count());
        ts.tv_sec = static_cast<time_t>(ns / 1000000000);
        ts.tv_nsec = static_cast<long>(ns % 1000000000);
        tsp = &ts;
      }
      if (::ppoll(fds.data(), fds.size(), tsp, nullptr) < 0 && errno != EINTR) break;
      if (stop_) break;
      if (fds[0].revents & POLLIN) {
        char buf[64];
        while (::read(wake_[0], buf, sizeof buf) > 0) {
        }
      }
      auto now = clock::now();
      next = clock::time_point::max();
      for (std::size_t i = 0; i < conns_.size();) {
        conn& c = conns_[i];
        pollfd& p = fds[2 + i];
        if (p.revents != 0 || c.timer() <= now) {
          if (!step(c, p.revents, now)) {
            close_conn(c);
            if (i + 1 != conns_.size()) {
              conns_[i] = std::move(conns_.back());
              fds[2 + i] = fds.back();
            }
            conns_.pop_back();
            fds.pop_back();
            continue;  // the one moved here still needs its turn
          }
          p.events = static_cast<short>(POLLIN | (!c.out_empty() && !c.split_wait ? POLLOUT : 0));
        }
        p.revents = 0;
        next = std::min(next, c.timer());
        ++i;
      }
      if (fds[1].revents & POLLIN) accept_all(fds);
    }
  }

  void accept_all(std::vector<pollfd>& fds) {
    for (;;) {
      int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) return;
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      conns_.emplace_back();
      conns_.back().fd = fd;
      fds.push_back({fd, POLLIN, 0});
      ++accepted_;
      ++open_;
    }
  }

  void close_conn(conn& c) {
    if (c.parked) --parked_;
    ::close(c.fd);
    --open_;
  }

  // Advances one connection as far as it can go now; false to close it.
  bool step(conn& c, short revents, clock::time_point now) {
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      if (!read_all(c)) {
        client_left(c);
        return false;
      }
    }
    for (;;) {
      bool changed = false;
      if (c.out_empty()) {
        if (c.ph == phase::reading) {
          if (c.answering) answered(c);
          if (c.close_after) return false;
          changed = parse(c);
        } else if (c.ph == phase::delaying && now >= c.due) {
          begin_answer(c, now);
          changed = true;
        } else if (c.ph == phase::streaming && !c.reset_pending && now >= c.due) {
          next_event(c, now);
          changed = true;
        }
      }
      if (!flush(c, now)) {
        client_left(c);
        return false;
      }
      if (c.reset_pending && c.out_empty()) {
        linger l{1, 0};
        ::setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        record_end(c, false);
        return false;
      }
      if (!changed || !c.out_empty()) return true;
    }
  }

  // false when the client closed (or reset) the connection.
  bool read_all(conn& c) {
    char buf[16384];
    for (;;) {
      auto n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<std::size_t>(n));
        if (c.in.size() > max_head + max_body) return false;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
      if (n < 0 && errno == EINTR) continue;
      return false;
    }
  }

  // false on a fatal send error.
  bool flush(conn& c, clock::time_point now) {
    while (!c.out_empty()) {
      if (c.split_wait) {
        if (now < c.split_until) return true;
        c.split_wait = false;
      }
      std::size_t n = c.out.size() - c.sent;
      if (c.split > 0) n = std::min(n, c.split);
      auto w = ::send(c.fd, c.out.data() + c.sent, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EINTR) continue;
        return false;
      }
      c.sent += static_cast<std::size_t>(w);
      if (c.split > 0 && c.split_pause.count() > 0 && !c.out_empty()) {
        c.split_wait = true;
        c.split_until = now + c.split_pause;
        return true;
      }
    }
    c.out.clear();
    c.sent = 0;
    return true;
  }

  void client_left(conn& c) {
    if (!c.answering) return;
    ++closed_early_;
    std::lock_guard<std::mutex> lk(mu_);
    if (c.slot < requests_.size()) {
      requests_[c.slot].closed_early = clock::now();
      requests_[c.slot].events_sent = c.ev;
    }
  }

  void record_end(conn& c, bool complete) {
    c.answering = false;
    std::lock_guard<std::mutex> lk(mu_);
    if (c.slot < requests_.size()) {
      requests_[c.slot].answered = complete;
      requests_[c.slot].events_sent = c.ev;
    }
  }

  void answered(conn& c) {
    record_end(c, true);
    c.split = 0;
    c.events.clear();
  }

  // An answer the server makes up (bad framing), then the connection closes.
  void refuse(conn& c, int status, std::string_view message) {
    std::string body = chat_reply::error_json(status, message);
    c.out += "HTTP/1.1 ";
    chat_detail::append_number(c.out, static_cast<std::size_t>(status));
    c.out += ' ';
    c.out += chat_detail::reason_phrase(status);
    c.out += "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ";
    chat_detail::append_number(c.out, body.size());
    c.out += "\r\n\r\n";
    c.out += body;
    c.close_after = true;
  }

  // Takes a complete request off c.in if there is one and starts its
  // answer; true when something changed.
  bool parse(conn& c) {
    if (!c.have_head) {
      auto end = c.in.find("\r\n\r\n", c.scanned);
      if (end == std::string::npos) {
        c.scanned = c.in.size() > 3 ? c.in.size() - 3 : 0;
        if (c.in.size() > max_head) {
          refuse(c, 431, "Request header fields too large.");
          return true;
        }
        return false;
      }
      c.scanned = 0;
      c.req = chat_request{};
      std::string_view head(c.in.data(), end);
      auto eol = head.find("\r\n");
      std::string_view line = head.substr(0, eol);
      auto sp1 = line.find(' '), sp2 = line.rfind(' ');
      if (sp1 == std::string_view::npos || sp2 <= sp1) {
        refuse(c, 400, "Malformed request line.");
        return true;
      }
      c.req.method = line.substr(0, sp1);
      c.req.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      bool http10 = line.substr(sp2 + 1) == "HTTP/1.0";
      std::size_t length = 0;
      bool chunked = false, bad_length = false;
      c.expect_continue = false;
      c.req_close = http10;
      while (eol != std::string_view::npos) {
        head.remove_prefix(eol + 2);
        eol = head.find("\r\n");
        auto h = head.substr(0, eol);
        auto colon = h.find(':');
        if (colon == std::string_view::npos) continue;
        auto name = h.substr(0, colon);
        auto v = h.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
        while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
        if (chat_detail::iequals(name, "content-length")) {
          auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
          bad_length = ec != std::errc() || p != v.data() + v.size();
        } else if (chat_detail::iequals(name, "transfer-encoding")) {
          chunked = !chat_detail::iequals(v, "identity");
        } else if (chat_detail::iequals(name, "expect")) {
          c.expect_continue = chat_detail::iequals(v, "100-continue");
        } else if (chat_detail::iequals(name, "connection")) {
          if (chat_detail::iequals(v, "close")) c.req_close = true;
          else if (chat_detail::iequals(v, "keep-alive")) c.req_close = false;
        }
        c.req.headers.emplace_back(std::string(name), std::string(v));
      }
      if (chunked) {
        refuse(c, 411, "Chunked request bodies are not supported here; send Content-Length.");
        return true;
      }
      if (bad_length || length > max_body) {
        refuse(c, bad_length ? 400 : 413,
               bad_length ? "Bad Content-Length." : "Request body too large.");
        return true;
      }
      c.have_head = true;
      c.continue_sent = false;
      c.head_len = end + 4;
      c.body_len = length;
    }
    if (c.in.size() < c.head_len + c.body_len) {
      if (c.expect_continue && !c.continue_sent) {
        c.out += "HTTP/1.1 100 Continue\r\n\r\n";
        c.continue_sent = true;
      }
      return false;
    }
    c.req.body.assign(c.in, c.head_len, c.body_len);
    c.in.erase(0, c.head_len + c.body_len);
    c.have_head = false;
    dispatch(c);
    return true;
  }

  void dispatch(conn& c) {
    chat_request& r = c.req;
    r.received = clock::now();
    r.json = nlohmann::json::parse(r.body, nullptr, false);
    r.index = count_.load();
    auto path = std::string_view(r.target).substr(0, r.target.find('?'));
    chat_reply reply;
    if (path != "/v1/chat/completions") {
      reply = chat_reply::error(404, "Unknown request URL: " + r.method + " " + std::string(path) +
                                         ". Please check the URL for typos.");
    } else if (r.method != "POST") {
      reply =
          chat_reply::error(405, "Not allowed to " + r.method + " on " + std::string(path) +
                                     ". (HINT: Perhaps you meant to use a different HTTP method?)");
    } else {
      std::shared_ptr<const handler> h;
      bool from_queue = false;
      {
        std::lock_guard<std::mutex> lk(mu_);
        if (!queue_.empty()) {
          reply = std::move(queue_.front());
          queue_.pop_front();
          from_queue = true;
        } else {
          h = handler_;
        }
      }
      if (!from_queue) {
        try {
          reply = (*h)(r);
        } catch (const std::exception& e) {
          reply = chat_reply::error(500, std::string("chat_server handler threw: ") + e.what());
        } catch (...) {
          reply = chat_reply::error(500, "chat_server handler threw");
        }
      }
    }
    c.req_stream = false;
    c.include_usage = false;
    if (r.json.is_object()) {
      if (auto it = r.json.find("stream"); it != r.json.end() && it->is_boolean())
        c.req_stream = it->get<bool>();
      if (auto it = r.json.find("stream_options"); it != r.json.end() && it->is_object())
        if (auto iu = it->find("include_usage"); iu != it->end() && iu->is_boolean())
          c.include_usage = iu->get<bool>();
    }
    c.model = reply.model ? *reply.model : r.model();
    if (c.model.empty()) c.model = "gpt-test";
    c.stream = reply.status == 200 && reply.stream.value_or(c.req_stream);
    r.stream = c.stream;
    c.close_after = c.req_close || reply.close;
    c.index = r.index;
    c.slot = none;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (recording_) {
        c.slot = requests_.size();
        requests_.push_back(std::move(r));
      }
      ++count_;
    }
    c.reply = std::move(reply);
    c.answering = true;
    c.ev = 0;
    c.malformed_done = false;
    c.due = clock::now() + c.reply.delay;
    c.ph = phase::delaying;
  }

  void append_head(conn& c, std::string_view content_type, std::size_t length) {
    const chat_reply& rp = c.reply;
    c.out += "HTTP/1.1 ";
    chat_detail::append_number(c.out, static_cast<std::size_t>(rp.status));
    c.out += ' ';
    c.out += chat_detail::reason_phrase(rp.status);
    c.out += "\r\n";
    bool own_type = std::none_of(rp.headers.begin(), rp.headers.end(), [](auto& h) {
      return chat_detail::iequals(h.first, "content-type");
    });
    if (own_type) {
      c.out += "Content-Type: ";
      c.out += content_type;
      c.out += "\r\n";
    }
    if (length == none) c.out += "Transfer-Encoding: chunked\r\nCache-Control: no-cache\r\n";
    else {
      c.out += "Content-Length: ";
      chat_detail::append_number(c.out, length);
      c.out += "\r\n";
    }
    c.out += "x-request-id: req_test_";
    chat_detail::append_number(c.out, c.index);
    c.out += "\r\n";
    for (auto& [k, v] : rp.headers) {
      c.out += k;
      c.out += ": ";
      c.out += v;
      c.out += "\r\n";
    }
    if (c.close_after) c.out += "Connection: close\r\n";
    c.out += "\r\n";
  }

  std::string reply_id(const conn& c) const {
    return c.reply.id ? *c.reply.id : "chatcmpl-test-" + std::to_string(c.index);
  }

  static long created() { return static_cast<long>(std::time(nullptr)); }

  // The bodies are put together as text: nlohmann's trees cost more than
  // everything else the server does per request.
  std::string completion_json(const conn& c) const {
    using namespace chat_detail;
    const chat_reply& rp = c.reply;
    std::string j;
    j.reserve(384 + (rp.content ? rp.content->size() : 0));
    j += "{\"id\":";
    append_quoted(j, reply_id(c));
    j += ",\"object\":\"chat.completion\",\"created\":";
    append_int(j, created());
    j += ",\"model\":";
    append_quoted(j, c.model);
    j += ",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":";
    if (rp.content) append_quoted(j, *rp.content);
    else j += "null";
    j += ",\"refusal\":null";
    if (!rp.tool_calls.empty()) {
      j += ",\"tool_calls\":[";
      for (std::size_t i = 0; i < rp.tool_calls.size(); ++i) {
        auto& t = rp.tool_calls[i];
        if (i) j += ',';
        j += "{\"id\":";
        append_quoted(j, t.id);
        j += ",\"type\":\"function\",\"function\":{\"name\":";
        append_quoted(j, t.name);
        j += ",\"arguments\":";
        append_quoted(j, t.arguments);
        j += "}}";
      }
      j += ']';
    }
    j += "},\"logprobs\":null,\"finish_reason\":";
    append_quoted(j, finish_reason(rp));
    j += "}]";
    if (rp.send_usage) {
      j += ",\"usage\":";
      append_usage(j, rp.usage);
    }
    j += ",\"system_fingerprint\":\"fp_test\"}";
    return j;
  }

  static std::string_view finish_reason(const chat_reply& rp) {
    if (rp.finish_reason) return *rp.finish_reason;
    return rp.tool_calls.empty() ? "stop" : "tool_calls";
  }

  std::vector<std::string> build_events(const conn& c) const {
    using namespace chat_detail;
    const chat_reply& rp = c.reply;
    std::vector<std::string> ev;
    // Every chunk: head + delta + middle + finish_reason + tail.
    std::string head = "data: {\"id\":";
    append_quoted(head, reply_id(c));
    head += ",\"object\":\"chat.completion.chunk\",\"created\":";
    append_int(head, created());
    head += ",\"model\":";
    append_quoted(head, c.model);
    head += ",\"system_fingerprint\":\"fp_test\",\"choices\":";
    const std::string_view middle = "},\"logprobs\":null,\"finish_reason\":";
    const std::string_view tail = c.include_usage ? "}],\"usage\":null}\n\n" : "}]}\n\n";
    std::string e;
    auto start = [&] {
      e.clear();
      e += head;
      e += "[{\"index\":0,\"delta\":{";
    };
    auto end = [&](std::optional<std::string_view> finish) {
      e += middle;
      if (!finish) e += "null";
      else append_quoted(e, *finish);
      e += tail;
      ev.push_back(e);
    };
    start();
    e += rp.content ? "\"role\":\"assistant\",\"content\":\"\",\"refusal\":null"
                    : "\"role\":\"assistant\",\"content\":null,\"refusal\":null";
    end(std::nullopt);
    std::vector<std::string> split;
    if (rp.deltas.empty() && rp.content)
      split = rp.content_chunks > 0 ? split_even(*rp.content, rp.content_chunks)
                                    : split_words(*rp.content);
    for (auto& p : rp.deltas.empty() ? split : rp.deltas) {
      start();
      e += "\"content\":";
      append_quoted(e, p);
      end(std::nullopt);
    }
    for (std::size_t i = 0; i < rp.tool_calls.size(); ++i) {
      auto& tc = rp.tool_calls[i];
      auto frags = split_even(tc.arguments, rp.argument_fragments);
      if (frags.empty()) frags.emplace_back();
      for (std::size_t k = 0; k < frags.size(); ++k) {
        start();
        e += "\"tool_calls\":[{\"index\":";
        append_number(e, i);
        if (k == 0) {
          e += ",\"id\":";
          append_quoted(e, tc.id);
          e += ",\"type\":\"function\",\"function\":{\"name\":";
          append_quoted(e, tc.name);
          e += ",\"arguments\":";
        } else {
          e += ",\"function\":{\"arguments\":";
        }
        append_quoted(e, frags[k]);
        e += "}}]";
        end(std::nullopt);
      }
    }
    start();
    end(finish_reason(rp));
    if (c.include_usage && rp.send_usage) {
      e = head;
      e += "[],\"usage\":";
      append_usage(e, rp.usage);
      e += "}\n\n";
      ev.push_back(e);
    }
    ev.push_back("data: [DONE]\n\n");
    return ev;
  }

  void begin_answer(conn& c, clock::time_point now) {
    const chat_reply& rp = c.reply;
    c.split = rp.write_split;
    c.split_pause = rp.split_pause;
    if (!c.stream && rp.reset_after_events) {
      c.reset_pending = true;
      return;
    }
    if (!c.stream && rp.park_after_events) {
      c.ph = phase::parked;
      c.parked = true;
      ++parked_;
      return;
    }
    if (!c.stream) {
      std::string body;
      if (rp.status == 200) body = rp.raw_json ? *rp.raw_json : completion_json(c);
      else body = rp.error_body ? *rp.error_body : chat_reply::error_json(rp.status);
      append_head(c, "application/json", body.size());
      c.out += body;
      c.ph = phase::reading;
      return;
    }
    append_head(c, "text/event-stream; charset=utf-8", none);
    c.events = rp.raw_events.empty() ? build_events(c) : rp.raw_events;
    c.ev = 0;
    c.ph = phase::streaming;
    c.due = now;
  }

  void end_stream(conn& c) {
    c.out += "0\r\n\r\n";
    c.ph = phase::reading;
  }

  // Writes the next event, or the fault due at this point.
  void next_event(conn& c, clock::time_point now) {
    const chat_reply& rp = c.reply;
    // Without an interval or write_split, all events up to the next stop
    // go out in one write.
    const bool batch = rp.interval.count() == 0 && c.split == 0;
    for (;;) {
      const std::size_t k = c.ev;
      if (rp.malformed_after_events == k && !c.malformed_done) {
        chat_detail::append_chunk(c.out, "data: {not json\n\n");
        c.malformed_done = true;
      }
      if (rp.error_event == k) {
        std::string e = "data: {\"error\":{\"message\":";
        chat_detail::append_quoted(e, rp.error_event_message);
        e += ",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n";
        chat_detail::append_chunk(c.out, e);
        return end_stream(c);
      }
      if (rp.truncate_after_events == k) return end_stream(c);
      if (rp.reset_after_events == k) {
        c.reset_pending = true;
        return;
      }
      if (rp.park_after_events == k) {
        c.ph = phase::parked;
        c.parked = true;
        ++parked_;
        std::lock_guard<std::mutex> lk(mu_);
        if (c.slot < requests_.size()) requests_[c.slot].events_sent = c.ev;
        return;
      }
      if (k >= c.events.size()) return end_stream(c);
      chat_detail::append_chunk(c.out, c.events[k]);
      ++c.ev;
      if (!batch) {
        c.due = c.ev == c.events.size() ? now : now + rp.interval;
        return;
      }
    }
  }

  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> accepted_{0}, open_{0}, parked_{0}, closed_early_{0}, count_{0};
  std::thread thread_;
  std::vector<conn> conns_;  // the server thread's alone
  mutable std::mutex mu_;
  std::vector<chat_request> requests_;
  std::deque<chat_reply> queue_;
  std::shared_ptr<const handler> handler_;
  bool recording_ = true;
};

}  // namespace weft::test
