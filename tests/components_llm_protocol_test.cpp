// The pieces of an LLM call that need no server: the SSE parser (every
// split of a stream), the stream joiner, the request body, the retry rules
// of the OpenAI client, and JSON Schema validation through valijson.
#include <catch2/catch.hpp>

#include <random>

#include "components/json_schema.hpp"
#include "components/llm_protocol.hpp"
#include "components/llm_retry.hpp"
#include "components/llm_sse.hpp"

using namespace weft;
using namespace weft::components;

namespace {

std::vector<sse_event> parse_in_pieces(std::string_view text,
                                       const std::vector<std::size_t>& cuts) {
  sse_parser p;
  std::vector<sse_event> out;
  std::size_t from = 0;
  auto take = [&](const sse_event& e) {
    out.push_back(e);
    return true;
  };
  for (auto c : cuts) {
    REQUIRE(p.feed(text.substr(from, c - from), take));
    from = c;
  }
  REQUIRE(p.feed(text.substr(from), take));
  return out;
}

const std::string stream_text =
    "\xEF\xBB\xBF: heartbeat\r\n"
    "data: "
    "{\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n"
    "event: message\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{\"content\":\"lo \\u00e9\"}}]}\r\r"
    "data: "
    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"function\":{"
    "\"name\":\"get\",\"arguments\":\"{\\\"ci\"}}]}}]}\n\n"
    "data: "
    "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"ty\\\":1}"
    "\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n"
    "data: "
    "{\"choices\":[],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":3,\"prompt_tokens_"
    "details\":{\"cached_tokens\":2}}}\n\n"
    "data: [DONE]\n\n";

}  // namespace

TEST_CASE("sse: a stream split at every byte boundary gives the same events", "[llm][sse]") {
  auto whole = parse_in_pieces(stream_text, {});
  REQUIRE(whole.size() == 8);
  CHECK(whole[1].type == "message");
  for (std::size_t cut = 1; cut < stream_text.size(); ++cut) {
    auto split = parse_in_pieces(stream_text, {cut});
    REQUIRE(split.size() == whole.size());
    for (std::size_t i = 0; i < whole.size(); ++i) CHECK(split[i].data == whole[i].data);
  }
  // And byte by byte.
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < stream_text.size(); ++i) every.push_back(i);
  auto bytes = parse_in_pieces(stream_text, every);
  REQUIRE(bytes.size() == whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i) CHECK(bytes[i].data == whole[i].data);
}

TEST_CASE("sse: multi-line data, comments, ids, and an event with no data", "[llm][sse]") {
  auto ev = parse_in_pieces("id: 7\ndata: a\ndata:b\n\n:comment\n\nevent: x\n\ndata\n\n", {});
  REQUIRE(ev.size() == 2);
  CHECK(ev[0].data == "a\nb");
  CHECK(ev[0].id == "7");
  CHECK(ev[1].data.empty());  // a bare `data` line is an empty value
}

TEST_CASE("sse: an event past the bound fails the stream", "[llm][sse]") {
  sse_parser p(64);
  auto ignore = [](const sse_event&) { return true; };
  CHECK(p.feed("data: " + std::string(40, 'x') + "\n", ignore));
  CHECK_FALSE(p.feed("data: " + std::string(40, 'y') + "\n", ignore));
  CHECK(p.failed());
  CHECK_FALSE(p.feed("\n", ignore));
}

TEST_CASE("chat stream: deltas, tool-call fragments joined by index, usage, [DONE]", "[llm][sse]") {
  chat_stream s(64);
  std::string text, delta;
  sse_parser p;
  bool ok = p.feed(stream_text, [&](const sse_event& e) {
    auto step = s.add(e.data, delta);
    text += delta;
    return step != chat_stream::step::failed;
  });
  REQUIRE(ok);
  REQUIRE(s.done());
  CHECK(text == "Hello \xC3\xA9");
  auto r = s.take();
  CHECK(r.id == "c1");
  CHECK(r.model == "m");
  CHECK(r.text == "Hello \xC3\xA9");
  CHECK(r.finish_reason == "tool_calls");
  REQUIRE(r.tool_calls.size() == 1);
  CHECK(r.tool_calls[0]["id"] == "call_1");
  CHECK(r.tool_calls[0]["function"]["name"] == "get");
  CHECK(r.tool_calls[0]["function"]["arguments"] == "{\"city\":1}");
  CHECK(r.usage.present);
  CHECK(r.usage.input == 7);
  CHECK(r.usage.output == 3);
  CHECK(r.usage.cache_read == 2);
  CHECK_FALSE(r.usage.reasoning);
  CHECK(r.message["role"] == "assistant");
  CHECK(r.message["tool_calls"] == r.tool_calls);
}

TEST_CASE("chat stream: an error chunk, data that is not JSON, a wild tool index", "[llm][sse]") {
  std::string delta;
  chat_stream a(64);
  CHECK(a.add(R"({"error":{"message":"overloaded","type":"server_error"}})", delta) ==
        chat_stream::step::failed);
  CHECK_THAT(a.error(), Catch::Contains("overloaded"));
  chat_stream b(64);
  CHECK(b.add("{not json", delta) == chat_stream::step::failed);
  CHECK_THAT(b.error(), Catch::Contains("malformed stream"));
  chat_stream c(64);
  CHECK(c.add(R"({"choices":[{"delta":{"tool_calls":[{"index":100000}]}}]})", delta) ==
        chat_stream::step::failed);
}

TEST_CASE("chat stream: chunks too deep, not UTF-8, not objects, or with trailing bytes fail",
          "[llm][sse]") {
  std::string delta;
  const std::string deep = std::string(R"({"choices":[{"delta":{"x":)") + std::string(100, '[') +
                           std::string(100, ']') + "}}]}";
  chat_stream a(64);
  CHECK(a.add(deep, delta) == chat_stream::step::failed);
  CHECK_THAT(a.error(), Catch::Contains("nests deeper than 64 levels"));
  // A million brackets: refused without exhausting the stack.
  chat_stream b(64);
  CHECK(b.add(std::string(1000000, '['), delta) == chat_stream::step::failed);
  chat_stream c(64);
  CHECK(c.add("{\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}", delta) ==
        chat_stream::step::failed);
  CHECK_THAT(c.error(), Catch::Contains("not a JSON object"));
  for (const char* bad : {"[1,2]", "\"text\"", "{} {}", "null"}) {
    chat_stream d(64);
    CHECK(d.add(bad, delta) == chat_stream::step::failed);
  }
  // Just inside the bound is fine, and the usage chunk is read.
  chat_stream e(64);
  CHECK(
      e.add(
          R"({"choices":[{"delta":{"content":"h\u00e9"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}})",
          delta) == chat_stream::step::more);
  CHECK(delta == "h\xc3\xa9");
  CHECK(e.add("[DONE]", delta) == chat_stream::step::done);
  auto r = e.take();
  CHECK(r.usage.input == 7);
  CHECK(r.usage.output == 2);
}

TEST_CASE("chat reply: a whole reply is read", "[llm]") {
  chat_reply r;
  auto err = parse_chat_reply(
      R"({"id":"x","model":"m2","choices":[{"message":{"role":"assistant","content":null,
      "tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],
      "usage":{"prompt_tokens":5,"completion_tokens":6,"completion_tokens_details":{"reasoning_tokens":4}}})",
      64, r);
  REQUIRE_FALSE(err);
  CHECK(r.text.empty());
  CHECK(r.message["content"].is_null());
  CHECK(r.tool_calls.size() == 1);
  CHECK(r.usage.reasoning == 4);
  CHECK(r.usage.to_value() ==
        value{{"input_tokens", 5}, {"output_tokens", 6}, {"total_tokens", 11}});
  CHECK(parse_chat_reply("<html>", 64, r).value().find("not JSON") != std::string::npos);
  CHECK(parse_chat_reply(R"({"choices":[]})", 64, r).value().find("no choices") !=
        std::string::npos);
  CHECK(parse_chat_reply(std::string(100, '[') + std::string(100, ']'), 64, r)
            .value()
            .find("deeper") != std::string::npos);
}

TEST_CASE("chat request: only the params that are set go out", "[llm]") {
  chat_request_params p;
  p.model = "m";
  auto msgs = value::array({{{"role", "user"}, {"content", "hi"}}});
  auto b = chat_request_body(p, msgs, value::array());
  CHECK(b == value{{"model", "m"}, {"messages", msgs}});
  p.temperature = 0.5;
  p.top_p = 0.9;
  p.max_tokens = 10;
  p.stop = {"x"};
  p.seed = 3;
  p.stream = true;
  p.schema = {{"type", "object"}};
  b = chat_request_body(p, msgs, value::array({{{"type", "function"}}}));
  CHECK(b["temperature"] == 0.5);
  CHECK(b["top_p"] == 0.9);
  CHECK(b["max_completion_tokens"] == 10);
  CHECK_FALSE(b.contains("max_tokens"));
  CHECK(b["stop"] == value::array({"x"}));
  CHECK(b["seed"] == 3);
  CHECK(b["stream"] == true);
  CHECK(b["stream_options"]["include_usage"] == true);
  CHECK(b["response_format"]["type"] == "json_schema");
  CHECK(b["response_format"]["json_schema"]["schema"] == p.schema);
  CHECK(b["response_format"]["json_schema"]["strict"] == true);
  CHECK(b["tools"].size() == 1);
  p.max_tokens_field = "max_tokens";
  b = chat_request_body(p, msgs, value::array());
  CHECK(b["max_tokens"] == 10);
  CHECK_FALSE(b.contains("max_completion_tokens"));
}

TEST_CASE("llm retry: what is retried, as the OpenAI client does", "[llm][retry]") {
  auto status = [](long s, std::vector<std::pair<std::string, std::string>> h = {}) {
    http_response r;
    r.status = s;
    r.headers = std::move(h);
    return r;
  };
  for (long s : {408L, 409L, 429L, 500L, 502L, 503L, 599L}) CHECK(llm_should_retry(status(s)));
  for (long s : {400L, 401L, 403L, 404L, 422L}) CHECK_FALSE(llm_should_retry(status(s)));
  CHECK(llm_should_retry(status(400, {{"x-should-retry", "true"}})));
  CHECK_FALSE(llm_should_retry(status(429, {{"x-should-retry", "false"}})));
  http_response t;
  t.error = "timed out";
  for (auto type : {"connect", "dns", "timeout", "other"}) {
    t.error_type = type;
    CHECK(llm_should_retry(t));
  }
  t.error_type = "invalid";
  CHECK_FALSE(llm_should_retry(t));
}

TEST_CASE("llm retry: the wait, from the server or by backoff with jitter", "[llm][retry]") {
  llm_retry_policy p;
  std::mt19937_64 rng(1);
  http_response r;
  r.status = 429;
  r.headers = {{"retry-after-ms", "250"}, {"retry-after", "9"}};
  CHECK(llm_retry_wait_ms(r, p, 0, rng) == 250);  // -ms first
  r.headers = {{"retry-after", "1.5"}};
  CHECK(llm_retry_wait_ms(r, p, 0, rng) == 1500);
  r.headers = {{"retry-after", "121"}};  // over 120 s: not obeyed
  CHECK_FALSE(llm_retry_after_ms(r));
  auto now = std::chrono::system_clock::from_time_t(1767225600);  // 2026-01-01 00:00:00 UTC
  r.headers = {{"retry-after", "Thu, 01 Jan 2026 00:00:30 GMT"}};
  CHECK(llm_retry_after_ms(r, now) == 30000);
  r.headers = {};
  for (int n = 0; n < 6; ++n) {
    const double base = std::min(500.0 * (1 << n), 8000.0);
    for (int k = 0; k < 50; ++k) {
      auto w = static_cast<double>(llm_retry_wait_ms(r, p, n, rng));
      CHECK(w >= base * 0.75 - 1);
      CHECK(w <= base);
    }
  }
}

TEST_CASE("json schema: valid and invalid values, and a schema that is not one", "[llm][schema]") {
  std::string why;
  auto s = json_schema::compile(value::parse(R"({"type":"object","required":["title","n"],
      "properties":{"title":{"type":"string"},"n":{"type":"integer","minimum":1}}})"),
                                why);
  REQUIRE(s);
  CHECK(s->validate(value::parse(R"({"title":"a","n":2})")).empty());
  auto bad = s->validate(value::parse(R"({"title":3,"n":0})"));
  CHECK_THAT(bad, Catch::Contains("title"));
  CHECK_THAT(bad, Catch::Contains("n"));
  CHECK_THAT(s->validate(value::parse(R"({"title":"a"})")), Catch::Contains("n"));
  CHECK_FALSE(json_schema::compile(value::parse(R"({"type": 12})"), why));
  CHECK_THAT(why, Catch::Contains("not a valid JSON Schema"));
  CHECK_FALSE(json_schema::compile(value::parse(R"({"$ref":"http://example.com/s.json"})"), why));
}
