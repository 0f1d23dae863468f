// The scripted OpenAI Chat Completions server (support/chat_server.hpp)
// that llm.chat's tests and benchmarks talk to: checked here with libcurl
// and raw sockets, so a failing llm.chat test can trust its server.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include "support/chat_server.hpp"
#include "support/raw_http.hpp"

using namespace std::chrono_literals;
using weft::test::chat_reply;
using weft::test::chat_request;
using weft::test::chat_server;
using weft::test::chat_tool_call;
using json = nlohmann::json;

namespace {

using clock_type = std::chrono::steady_clock;

struct curl_result {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::vector<std::string> header_lines;
  std::size_t writes = 0;  // write callback calls: how the body arrived

  std::optional<std::string> header(const std::string& name) const {
    for (auto& l : header_lines) {
      auto colon = l.find(':');
      if (colon == std::string::npos || strcasecmp(l.substr(0, colon).c_str(), name.c_str()) != 0)
        continue;
      auto v = l.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
      return v;
    }
    return std::nullopt;
  }
};

curl_result post(const std::string& url, const std::string& body,
                 std::vector<std::string> headers = {}, long timeout_ms = 5000) {
  curl_result r;
  CURL* e = curl_easy_init();
  curl_slist* list = curl_slist_append(nullptr, "Content-Type: application/json");
  list = curl_slist_append(list, "Authorization: Bearer sk-test");
  for (auto& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(
      e, CURLOPT_WRITEFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
        auto* res = static_cast<curl_result*>(ud);
        res->body.append(p, n);
        ++res->writes;
        return n;
      });
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(
      e, CURLOPT_HEADERFUNCTION, +[](char* p, size_t, size_t n, void* ud) -> size_t {
        static_cast<curl_result*>(ud)->header_lines.emplace_back(p, n);
        return n;
      });
  r.code = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(list);
  curl_easy_cleanup(e);
  return r;
}

std::string chat_body(bool stream, bool include_usage = false,
                      const std::string& model = "gpt-4o-mini") {
  json j = {{"model", model}, {"messages", json::array({{{"role", "user"}, {"content", "hi"}}})}};
  if (stream) j["stream"] = true;
  if (include_usage) j["stream_options"] = {{"include_usage", true}};
  return j.dump();
}

// The data of each SSE event, in order ("[DONE]" included).
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  for (;;) {
    auto end = body.find("\n\n", pos);
    if (end == std::string::npos) break;
    auto ev = body.substr(pos, end - pos);
    if (ev.rfind("data: ", 0) == 0) out.push_back(ev.substr(6));
    pos = end + 2;
  }
  return out;
}

// The content of a stream's chunks, joined.
std::string joined_content(const std::vector<std::string>& data) {
  std::string s;
  for (auto& d : data) {
    if (d == "[DONE]") continue;
    auto j = json::parse(d);
    if (j["choices"].empty()) continue;
    auto& delta = j["choices"][0]["delta"];
    if (delta.contains("content") && delta["content"].is_string())
      s += delta["content"].get<std::string>();
  }
  return s;
}

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

std::string completions(const chat_server& s) { return s.base_url() + "/chat/completions"; }

}  // namespace

TEST_CASE("chat_server: a JSON completion with usage, and the request recorded", "[chat_server]") {
  chat_server s;
  REQUIRE(s.base_url() == "http://127.0.0.1:" + std::to_string(s.port()) + "/v1");
  chat_reply r = chat_reply::text("hello there");
  r.usage = {12, 7, 3, 2};
  s.push(r);
  auto res = post(completions(s), chat_body(false), {"X-Custom: yes"});
  REQUIRE(res.code == CURLE_OK);
  REQUIRE(res.status == 200);
  REQUIRE(res.header("content-type") == "application/json");
  REQUIRE(res.header("x-request-id") == "req_test_0");
  auto j = json::parse(res.body);
  CHECK(j["id"] == "chatcmpl-test-0");
  CHECK(j["object"] == "chat.completion");
  CHECK(j["model"] == "gpt-4o-mini");
  CHECK(j["choices"][0]["message"]["role"] == "assistant");
  CHECK(j["choices"][0]["message"]["content"] == "hello there");
  CHECK_FALSE(j["choices"][0]["message"].contains("tool_calls"));
  CHECK(j["choices"][0]["finish_reason"] == "stop");
  CHECK(j["usage"]["prompt_tokens"] == 12);
  CHECK(j["usage"]["completion_tokens"] == 7);
  CHECK(j["usage"]["total_tokens"] == 19);
  CHECK(j["usage"]["prompt_tokens_details"]["cached_tokens"] == 3);
  CHECK(j["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2);

  REQUIRE(s.wait_for([&] { return s.request(0).answered; }, 2s));
  auto req = s.request(0);
  CHECK(req.method == "POST");
  CHECK(req.target == "/v1/chat/completions");
  CHECK(req.header("authorization") == "Bearer sk-test");
  CHECK(req.header("X-CUSTOM") == "yes");
  CHECK(req.json["messages"][0]["content"] == "hi");
  CHECK(req.model() == "gpt-4o-mini");
  CHECK(req.index == 0);
  CHECK_FALSE(req.stream);
  CHECK_FALSE(req.closed_early);

  SECTION("the queue is used up, then the handler answers") {
    auto d = post(completions(s), chat_body(false));
    REQUIRE(d.status == 200);
    CHECK(json::parse(d.body)["choices"][0]["message"]["content"] == "ok");
    CHECK(json::parse(d.body)["id"] == "chatcmpl-test-1");
    s.on_request([](const chat_request& q) {
      chat_reply x = chat_reply::text("echo " + q.model());
      x.model = "served-model";
      x.send_usage = false;
      return x;
    });
    auto e = json::parse(post(completions(s), chat_body(false, false, "m1")).body);
    CHECK(e["choices"][0]["message"]["content"] == "echo m1");
    CHECK(e["model"] == "served-model");
    CHECK_FALSE(e.contains("usage"));
    s.on_request([](const chat_request&) -> chat_reply { throw std::runtime_error("boom"); });
    auto f = post(completions(s), chat_body(false));
    CHECK(f.status == 500);
    CHECK(json::parse(f.body)["error"]["message"].get<std::string>().find("boom") !=
          std::string::npos);
    CHECK(s.request_count() == 4);
  }
  SECTION("write_split cuts a JSON answer too") {
    chat_reply x = chat_reply::text("split me");
    x.write_split = 5;
    s.push(x);
    auto d = post(completions(s), chat_body(false));
    CHECK(json::parse(d.body)["choices"][0]["message"]["content"] == "split me");
    CHECK(d.writes > 3);
  }
  SECTION("quotes, backslashes and control characters are escaped") {
    const std::string odd = "say \"hi\"\\n\n\t\x01 — end";
    s.push(chat_reply::text(odd));
    s.push(chat_reply::text(odd));
    CHECK(json::parse(
              post(completions(s), chat_body(false)).body)["choices"][0]["message"]["content"] ==
          odd);
    CHECK(joined_content(sse_data(post(completions(s), chat_body(true)).body)) == odd);
  }
  SECTION("raw_json replaces the whole body") {
    chat_reply x;
    x.raw_json = "{\"choices\": []}";
    s.push(x);
    CHECK(post(completions(s), chat_body(false)).body == "{\"choices\": []}");
  }
}

TEST_CASE("chat_server: errors for bodies that are not JSON and for other paths", "[chat_server]") {
  chat_server s;
  s.push(chat_reply::text("never used by a 404"));
  auto nf = post(s.base_url() + "/models", "{}");
  CHECK(nf.status == 404);
  CHECK(json::parse(nf.body)["error"]["message"].get<std::string>().find("/v1/models") !=
        std::string::npos);
  CHECK(s.queued() == 1);  // a 404 consumes nothing
  s.on_request(nullptr);   // back to the default handler
  auto ok = post(completions(s), chat_body(false));
  CHECK(json::parse(ok.body)["choices"][0]["message"]["content"] == "never used by a 404");
  auto bad = post(completions(s), "{not json");
  CHECK(bad.status == 400);
  CHECK(json::parse(bad.body)["error"]["type"] == "invalid_request_error");
  REQUIRE(s.request_count() == 3);
  CHECK(s.request(2).json.is_discarded());
}

TEST_CASE("chat_server: a streamed reply joins to its content and ends with [DONE]",
          "[chat_server]") {
  chat_server s;
  const std::string text = "The quick brown fox jumps";
  chat_reply r = chat_reply::text(text);
  std::size_t content_events = 5;  // one per word
  SECTION("one delta per word") {}
  SECTION("content_chunks pieces, never inside a UTF-8 character") {
    r.content = "naïve café — ünïcödé";
    r.content_chunks = 7;
    content_events = 7;
  }
  SECTION("explicit deltas") {
    r.deltas = {"The qu", "ick brown", " fox jumps"};
    content_events = 3;
  }
  SECTION("written 7 bytes at a time") { r.write_split = 7; }
  s.push(r);
  auto res = post(completions(s), chat_body(true));
  REQUIRE(res.code == CURLE_OK);
  REQUIRE(res.status == 200);
  CHECK(res.header("content-type")->rfind("text/event-stream", 0) == 0);
  CHECK(res.header("transfer-encoding") == "chunked");
  auto data = sse_data(res.body);
  REQUIRE(data.size() == 1 + content_events + 1 + 1);  // role, content, finish, [DONE]
  CHECK(data.back() == "[DONE]");
  CHECK(joined_content(data) == (r.content == text ? text : *r.content));
  auto first = json::parse(data[0]);
  CHECK(first["object"] == "chat.completion.chunk");
  CHECK(first["id"] == "chatcmpl-test-0");
  CHECK(first["model"] == "gpt-4o-mini");
  CHECK(first["choices"][0]["delta"]["role"] == "assistant");
  CHECK_FALSE(first.contains("usage"));
  auto fin = json::parse(data[data.size() - 2]);
  CHECK(fin["choices"][0]["finish_reason"] == "stop");
  CHECK(fin["choices"][0]["delta"].empty());
  for (auto& d : data)  // no usage chunk without include_usage
    if (d != "[DONE]") CHECK(json::parse(d)["choices"].size() == 1);
  if (r.write_split) CHECK(res.writes > data.size());  // the events arrived cut up
  REQUIRE(s.wait_for([&] { return s.request(0).answered; }, 2s));
  CHECK(s.request(0).stream);
  CHECK(s.request(0).events_sent == data.size());
}

TEST_CASE("chat_server: the usage chunk comes only with stream_options.include_usage",
          "[chat_server]") {
  chat_server s;
  chat_reply r = chat_reply::text("a b");
  r.usage = {20, 2, 16, std::nullopt};
  s.push(r);
  s.push(r);
  auto with = sse_data(post(completions(s), chat_body(true, true)).body);
  REQUIRE(with.size() == 6);  // role, a, b, finish, usage, [DONE]
  auto u = json::parse(with[4]);
  CHECK(u["choices"].empty());
  CHECK(u["usage"]["prompt_tokens"] == 20);
  CHECK(u["usage"]["total_tokens"] == 22);
  CHECK(u["usage"]["prompt_tokens_details"]["cached_tokens"] == 16);
  CHECK_FALSE(u["usage"].contains("completion_tokens_details"));
  for (int i = 0; i < 4; ++i) CHECK(json::parse(with[i])["usage"].is_null());
  auto without = sse_data(post(completions(s), chat_body(true, false)).body);
  REQUIRE(without.size() == 5);
  for (auto& d : without) CHECK(d.find("\"usage\"") == std::string::npos);
}

TEST_CASE("chat_server: tool calls, whole and as fragments", "[chat_server]") {
  chat_server s;
  std::vector<chat_tool_call> calls = {
      {"call_a", "get_weather", R"({"city": "Paris", "unit": "celsius"})"},
      {"call_b", "get_time", R"({"tz": "Europe/Paris"})"}};
  s.push(chat_reply::tools(calls));
  auto whole = json::parse(post(completions(s), chat_body(false)).body);
  auto& msg = whole["choices"][0]["message"];
  CHECK(msg["content"].is_null());
  REQUIRE(msg["tool_calls"].size() == 2);
  CHECK(msg["tool_calls"][1]["id"] == "call_b");
  CHECK(msg["tool_calls"][1]["type"] == "function");
  CHECK(msg["tool_calls"][1]["function"]["name"] == "get_time");
  CHECK(msg["tool_calls"][1]["function"]["arguments"] == calls[1].arguments);
  CHECK(whole["choices"][0]["finish_reason"] == "tool_calls");

  chat_reply r = chat_reply::tools(calls);
  r.argument_fragments = 4;
  s.push(r);
  auto data = sse_data(post(completions(s), chat_body(true)).body);
  REQUIRE(data.size() == 1 + 8 + 1 + 1);
  CHECK(json::parse(data[0])["choices"][0]["delta"]["content"].is_null());
  std::map<int, std::string> args, ids, names;
  std::map<int, int> fragments;
  for (std::size_t i = 1; i < 9; ++i) {
    auto j = json::parse(data[i]);
    auto& tc = j["choices"][0]["delta"]["tool_calls"];
    REQUIRE(tc.size() == 1);
    int idx = tc[0]["index"];
    if (fragments[idx]++ == 0) {
      ids[idx] = tc[0]["id"];
      names[idx] = tc[0]["function"]["name"];
      CHECK(tc[0]["type"] == "function");
    } else {
      CHECK_FALSE(tc[0].contains("id"));
      CHECK_FALSE(tc[0]["function"].contains("name"));
    }
    args[idx] += tc[0]["function"]["arguments"].get<std::string>();
  }
  CHECK(fragments[0] == 4);
  CHECK(fragments[1] == 4);
  CHECK(ids[0] == "call_a");
  CHECK(names[1] == "get_time");
  CHECK(args[0] == calls[0].arguments);
  CHECK(args[1] == calls[1].arguments);
  CHECK(json::parse(data[9])["choices"][0]["finish_reason"] == "tool_calls");
}

TEST_CASE("chat_server: 429 with retry-after-ms, then success", "[chat_server]") {
  chat_server s;
  chat_reply limited = chat_reply::error(429);
  limited.headers = {{"retry-after-ms", "50"}, {"x-should-retry", "true"}};
  s.push(limited);
  auto a = post(completions(s), chat_body(true));  // an error is JSON even for a stream request
  CHECK(a.status == 429);
  CHECK(a.header("Retry-After-Ms") == "50");
  CHECK(a.header("x-should-retry") == "true");
  CHECK(a.header("content-type") == "application/json");
  auto e = json::parse(a.body);
  CHECK(e["error"]["code"] == "rate_limit_exceeded");
  CHECK(e["error"]["message"].is_string());
  s.push(chat_reply::error(503, "try later"));
  auto b = post(completions(s), chat_body(false));
  CHECK(b.status == 503);
  CHECK(json::parse(b.body)["error"]["message"] == "try later");
  CHECK(json::parse(b.body)["error"]["type"] == "server_error");
  CHECK(post(completions(s), chat_body(false)).status == 200);
  CHECK(s.connections_accepted() == 3);  // curl easy handles: one each
}

TEST_CASE("chat_server: delay and interval", "[chat_server]") {
  chat_server s;
  chat_reply r = chat_reply::text("x");
  r.delay = 150ms;
  s.push(r);
  auto t0 = clock_type::now();
  REQUIRE(post(completions(s), chat_body(false)).status == 200);
  CHECK(ms_since(t0) >= 145);

  chat_reply st = chat_reply::text("a b c");
  st.interval = 40ms;  // 5 gaps between 6 events
  s.push(st);
  t0 = clock_type::now();
  auto data = sse_data(post(completions(s), chat_body(true)).body);
  CHECK(data.size() == 6);
  CHECK(ms_since(t0) >= 195);

  // A client that gives up during the delay is recorded as leaving early.
  chat_reply slow = chat_reply::text("late");
  slow.delay = 3s;
  s.push(slow);
  t0 = clock_type::now();
  auto res = post(completions(s), chat_body(false), {}, 100);
  CHECK(res.code == CURLE_OPERATION_TIMEDOUT);
  REQUIRE(s.wait_for([&] { return s.request(2).closed_early.has_value(); }, 2s));
  CHECK(ms_since(t0) < 2000);
  CHECK_FALSE(s.request(2).answered);
}

TEST_CASE("chat_server: truncated, reset, malformed and error streams", "[chat_server]") {
  chat_server s;
  chat_reply r = chat_reply::text("one two three four");  // 7 events: role, 4 words, finish, [DONE]

  SECTION("truncate: a clean end before [DONE]") {
    r.truncate_after_events = 3;
    s.push(r);
    auto t = post(completions(s), chat_body(true));
    REQUIRE(t.code == CURLE_OK);
    auto data = sse_data(t.body);
    REQUIRE(data.size() == 3);
    CHECK(joined_content(data) == "one two");
    REQUIRE(s.wait_for([&] { return s.request(0).answered; }, 2s));
    CHECK(s.request(0).events_sent == 3);
  }
  SECTION("reset: the client sees a transport error") {
    r.reset_after_events = 2;
    s.push(r);
    auto t = post(completions(s), chat_body(true));
    CHECK(t.code != CURLE_OK);
    CHECK(sse_data(t.body).size() <= 2);
    REQUIRE(s.wait_for([&] { return s.open_connections() == 0; }, 2s));
    CHECK_FALSE(s.request(0).answered);
    CHECK_FALSE(s.request(0).closed_early);
    CHECK(s.request(0).events_sent == 2);
  }
  SECTION("malformed: a line that is not JSON, then the rest") {
    r.malformed_after_events = 2;
    s.push(r);
    auto data = sse_data(post(completions(s), chat_body(true)).body);
    REQUIRE(data.size() == 8);
    CHECK(data[2] == "{not json");
    CHECK(json::parse(data[2], nullptr, false).is_discarded());
    CHECK(data.back() == "[DONE]");
  }
  SECTION("error event: the stream ends with it") {
    r.error_event = 2;
    r.error_event_message = "overloaded";
    s.push(r);
    auto t = post(completions(s), chat_body(true));
    REQUIRE(t.code == CURLE_OK);
    auto data = sse_data(t.body);
    REQUIRE(data.size() == 3);
    auto e = json::parse(data[2]);
    CHECK(e["error"]["message"] == "overloaded");
    CHECK(e["error"]["type"] == "server_error");
  }
  SECTION("a JSON answer reset or never sent") {
    r.reset_after_events = 0;
    s.push(r);
    auto t = post(completions(s), chat_body(false));
    CHECK(t.code != CURLE_OK);
    CHECK(t.status == 0);
    chat_reply never = chat_reply::text("x");
    never.park_after_events = 0;
    s.push(never);
    t = post(completions(s), chat_body(false), {}, 150);
    CHECK(t.code == CURLE_OPERATION_TIMEDOUT);
    REQUIRE(s.wait_for([&] { return s.closed_early_count() == 1; }, 2s));
    CHECK(s.request(1).closed_early);
    CHECK(s.parked_streams() == 0);
  }
  SECTION("raw events, verbatim") {
    r.raw_events = {": keep-alive\n\n", "data: {\"choices\":[]}\r\n\r\n", "data: [DONE]\n\n"};
    s.push(r);
    auto t = post(completions(s), chat_body(true));
    CHECK(t.body == ": keep-alive\n\ndata: {\"choices\":[]}\r\n\r\ndata: [DONE]\n\n");
  }
}

namespace {

// Sends a stream request on a raw socket and reads until `events` events
// have arrived (the head, chunk framing and all, unparsed).
bool read_events(weft::test::raw_conn& c, std::size_t events,
                 std::chrono::milliseconds timeout = 3s) {
  std::string in;
  auto until = clock_type::now() + timeout;
  auto count = [&] {
    std::size_t n = 0;
    for (auto p = in.find("data: "); p != std::string::npos; p = in.find("data: ", p + 1)) ++n;
    return n;
  };
  while (count() < events) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - clock_type::now()).count();
    if (left <= 0) return false;
    pollfd p{c.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char buf[4096];
    auto n = ::recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

TEST_CASE("chat_server: parked streams, and the client closing them", "[chat_server]") {
  chat_server s;
  chat_reply r = chat_reply::text("one two three");
  r.park_after_events = 2;
  s.on_request([r](const chat_request&) { return r; });
  {
    weft::test::raw_conn c(s.port());
    REQUIRE(c.send(weft::test::json_post("/v1/chat/completions", chat_body(true))));
    REQUIRE(read_events(c, 2));
    REQUIRE(s.wait_for([&] { return s.parked_streams() == 1; }, 2s));
    // Nothing more comes.
    pollfd p{c.fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 100) == 0);
    auto closed = clock_type::now();
    c.close();
    REQUIRE(s.wait_for([&] { return s.request(0).closed_early.has_value(); }, 2s));
    auto req = s.request(0);
    CHECK(*req.closed_early >= closed);
    CHECK_FALSE(req.answered);
    CHECK(req.events_sent == 2);
    CHECK(s.parked_streams() == 0);
    CHECK(s.closed_early_count() == 1);
  }
  SECTION("1,000 at once, on the one server thread") {
    s.set_recording(false);
    constexpr int n = 1000;
    std::vector<std::unique_ptr<weft::test::raw_conn>> conns;
    for (int i = 0; i < n; ++i) {
      conns.push_back(std::make_unique<weft::test::raw_conn>(s.port()));
      REQUIRE(conns.back()->ok());
      REQUIRE(conns.back()->send(weft::test::json_post("/v1/chat/completions", chat_body(true))));
    }
    REQUIRE(s.wait_for([&] { return s.parked_streams() == n; }, 5s));
    CHECK(s.open_connections() == n);
    CHECK(read_events(*conns[n / 2], 2));
    conns.clear();
    REQUIRE(s.wait_for([&] { return s.closed_early_count() == n + 1; }, 5s));
    REQUIRE(s.wait_for([&] { return s.open_connections() == 0; }, 2s));
    CHECK(s.parked_streams() == 0);
    CHECK(s.request_count() == n + 1);
    CHECK(s.requests().size() == 1);  // not recorded past set_recording(false)
  }
}

TEST_CASE("chat_server: 200 sequential keep-alive requests on one connection", "[chat_server]") {
  chat_server s;
  s.on_request(
      [](const chat_request& r) { return chat_reply::text("n" + std::to_string(r.index)); });
  weft::test::raw_conn c(s.port());
  for (int i = 0; i < 200; ++i) {
    REQUIRE(c.send(weft::test::json_post("/v1/chat/completions", chat_body(false))));
    auto res = c.read_response(2s);
    REQUIRE(res);
    REQUIRE(res->status == 200);
    REQUIRE(json::parse(res->body)["choices"][0]["message"]["content"] == "n" + std::to_string(i));
  }
  CHECK(s.connections_accepted() == 1);
  CHECK(s.request_count() == 200);

  SECTION("pipelined: 50 in one write, answered in order") {
    std::string batch;
    for (int i = 0; i < 50; ++i)
      batch += weft::test::json_post("/v1/chat/completions", chat_body(false));
    REQUIRE(c.send(batch));
    for (int i = 0; i < 50; ++i) {
      auto res = c.read_response(2s);
      REQUIRE(res);
      CHECK(json::parse(res->body)["choices"][0]["message"]["content"] ==
            "n" + std::to_string(200 + i));
    }
  }
  SECTION("Connection: close is honoured") {
    REQUIRE(c.send(
        weft::test::json_post("/v1/chat/completions", chat_body(false), "Connection: close\r\n")));
    auto res = c.read_response(2s);
    REQUIRE(res);
    CHECK(res->header("connection") == "close");
    CHECK(c.closed_by_peer(2s));
  }
}

TEST_CASE("chat_server: Expect: 100-continue and large bodies", "[chat_server]") {
  chat_server s;
  SECTION("raw: 100 Continue comes before the body is sent") {
    weft::test::raw_conn c(s.port());
    std::string body = chat_body(false);
    REQUIRE(c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: t\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nExpect: 100-continue\r\n\r\n"));
    pollfd p{c.fd(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 2000) == 1);
    char buf[256];
    auto n = ::recv(c.fd(), buf, sizeof buf, 0);
    REQUIRE(n > 0);
    CHECK(std::string(buf, static_cast<std::size_t>(n)) == "HTTP/1.1 100 Continue\r\n\r\n");
    REQUIRE(c.send(body));
    auto res = c.read_response(2s);
    REQUIRE(res);
    CHECK(res->status == 200);
  }
  SECTION("curl with a 3 MB body does not wait for its expect timeout") {
    json j = json::parse(chat_body(false));
    j["messages"][0]["content"] = std::string(3 << 20, 'x');
    auto res = post(completions(s), j.dump(), {"Expect: 100-continue"});
    CHECK(res.status == 200);
    // curl saw the interim answer (else it would have sent the body after
    // its expect timeout, 1 s).
    CHECK(res.header_lines.front().rfind("HTTP/1.1 100", 0) == 0);
    REQUIRE(s.request_count() == 1);
    CHECK(s.request(0).json["messages"][0]["content"].get<std::string>().size() == (3u << 20));
    CHECK(s.request(0).header("expect") == "100-continue");
  }
}

TEST_CASE("chat_server: 4,000 requests over 8 connections, quickly", "[chat_server]") {
  chat_server s;
  s.set_recording(false);
  const std::string req = weft::test::json_post("/v1/chat/completions", chat_body(false));
  std::vector<std::unique_ptr<weft::test::raw_conn>> conns;
  for (int i = 0; i < 8; ++i) conns.push_back(std::make_unique<weft::test::raw_conn>(s.port()));
  auto t0 = clock_type::now();
  for (int round = 0; round < 500; ++round) {
    for (auto& c : conns) REQUIRE(c->send(req));
    for (auto& c : conns) REQUIRE(c->read_response(2s));
  }
  double ms = ms_since(t0);
  CHECK(s.request_count() == 4000);
  CHECK(ms < 3000);
  WARN("4,000 requests in " << ms << " ms");
}
