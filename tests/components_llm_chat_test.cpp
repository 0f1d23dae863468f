// The `llm.chat` node type against a Chat Completions server on loopback
// (tests/support/chat_server.hpp): every request field, every output, JSON
// and streamed replies, the retry rules with their timing, structured
// output, the GenAI span attributes one by one, stream faults, and a run
// timeout in the middle of a stream.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "support/chat_server.hpp"
#include "support/engine_fixture.hpp"
#include "tracing/otlp_json.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;
using tracing::span_record;

namespace {

// A one-node flow: prompt -> llm.chat -> every output.
std::string chat_flow(const chat_server& srv, const std::string& extra_params = "",
                      const std::string& inputs = "{prompt: $inputs.prompt}",
                      const std::string& outputs = "") {
  return "flow: chat\ninputs: {prompt: {type: string, default: 'Say hi'}, system: {type: string, "
         "default: ''}, "
         "messages: {type: array, default: []}}\nnodes:\n  ask:\n    type: llm.chat\n"
         "    params: {model: m1, base_url: '" +
         srv.base_url() + "', retry: {initial_ms: 20, max_ms: 40}" +
         (extra_params.empty() ? "" : ", " + extra_params) + "}\n    inputs: " + inputs +
         "\noutputs: {text: ask.text, message: ask.message, tool_calls: ask.tool_calls, usage: "
         "ask.usage, "
         "finish_reason: ask.finish_reason" +
         outputs + "}\n";
}

const span_record* named(const std::vector<span_record>& spans, const std::string& name) {
  return find_span(spans, name);
}

std::vector<const span_record*> all_named(const std::vector<span_record>& spans,
                                          const std::string& name) {
  std::vector<const span_record*> out;
  for (auto& s : spans)
    if (s.name == name) out.push_back(&s);
  std::sort(out.begin(), out.end(),
            [](auto a, auto b) { return a->start_unix_ns < b->start_unix_ns; });
  return out;
}

std::int64_t int_attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  return v && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v) : -1;
}

double double_attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  return v && std::holds_alternative<double>(*v) ? std::get<double>(*v) : -1;
}

std::vector<std::string> strings_attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  return v && std::holds_alternative<std::vector<std::string>>(*v)
             ? std::get<std::vector<std::string>>(*v)
             : std::vector<std::string>{};
}

// Every string an exporter could ship from these spans.
std::string all_text(const std::vector<span_record>& spans) {
  std::string out;
  for (auto& s : spans) {
    out += s.name + "\n" + s.status_message + "\n";
    for (auto& a : s.attributes) {
      if (auto p = std::get_if<std::string>(&a.value)) out += a.key + "=" + *p + "\n";
      if (auto p = std::get_if<std::vector<std::string>>(&a.value))
        for (auto& x : *p) out += a.key + "=" + x + "\n";
    }
    for (auto& e : s.events) out += e.name + "\n";
  }
  return out;
}

}  // namespace

TEST_CASE("llm.chat: the request carries the model, messages and every param set",
          "[llm][llm_chat]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(
      eng,
      chat_flow(srv,
                "temperature: 0.3, top_p: 0.8, max_tokens: 64, stop: ['END', 'STOP'], "
                "seed: 42, api_key: sk-test-0123456789abcdef, "
                "tools: [{name: lookup, description: Finds things, parameters: {type: object}}]",
                "{prompt: $inputs.prompt, system: $inputs.system}"));
  auto r = eng.run(flow, {{"prompt", "What is weft?"}, {"system", "Be brief."}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(srv.request_count() == 1);
  auto req = srv.request(0);
  CHECK(req.target == "/v1/chat/completions");
  CHECK(req.method == "POST");
  CHECK(req.header("content-type") == "application/json");
  CHECK(req.header("authorization") == "Bearer sk-test-0123456789abcdef");
  CHECK(req.header("traceparent").has_value());
  const auto& b = req.json;
  CHECK(b["model"] == "m1");
  CHECK(b["messages"] == value::parse(R"([{"role":"system","content":"Be brief."},
                                          {"role":"user","content":"What is weft?"}])"));
  CHECK(b["temperature"] == 0.3);
  CHECK(b["top_p"] == 0.8);
  CHECK(b["max_completion_tokens"] == 64);
  CHECK_FALSE(b.contains("max_tokens"));
  CHECK(b["stop"] == value::array({"END", "STOP"}));
  CHECK(b["seed"] == 42);
  CHECK(b["tools"] == value::parse(R"([{"type":"function","function":{"name":"lookup",
                                       "description":"Finds things","parameters":{"type":"object"}}}])"));
  CHECK_FALSE(b.contains("stream"));
  CHECK_FALSE(b.contains("response_format"));
}

TEST_CASE("llm.chat: max_tokens_field, messages as input, and no key means no Authorization",
          "[llm][llm_chat]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  ::unsetenv("OPENAI_API_KEY");
  engine eng(memory_options(st));
  auto flow = must_load(eng, chat_flow(srv, "max_tokens: 9, max_tokens_field: max_tokens",
                                       "{messages: $inputs.messages}"));
  auto msgs = value::parse(R"([{"role":"user","content":"a"},{"role":"assistant","content":"b"},
                               {"role":"user","content":"c"}])");
  auto r = eng.run(flow, {{"messages", msgs}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  auto req = srv.request(0);
  CHECK(req.json["max_tokens"] == 9);
  CHECK_FALSE(req.json.contains("max_completion_tokens"));
  CHECK(req.json["messages"] == msgs);
  CHECK_FALSE(req.header("authorization").has_value());
}

TEST_CASE("llm.chat: the key comes from OPENAI_API_KEY and the URL from OPENAI_BASE_URL",
          "[llm][llm_chat]") {
  chat_server srv;
  ::setenv("OPENAI_API_KEY", "sk-env-abcdef0123456789", 1);
  ::setenv("OPENAI_BASE_URL", srv.base_url().c_str(), 1);
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow =
      must_load(eng,
                "flow: e\ninputs: {p: {type: string}}\nnodes:\n  ask: {type: llm.chat, params: "
                "{model: m1}, inputs: {prompt: $inputs.p}}\noutputs: {text: ask.text}\n");
  ::unsetenv("OPENAI_API_KEY");
  ::unsetenv("OPENAI_BASE_URL");
  auto r = eng.run(flow, {{"p", "x"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(srv.request(0).header("authorization") == "Bearer sk-env-abcdef0123456789");
}

TEST_CASE("llm.chat: every output of a JSON reply, text and tool calls", "[llm][llm_chat]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, chat_flow(srv));
  chat_reply a = chat_reply::text("Hello there");
  a.usage = {12, 3, 4, 1};
  srv.push(a);
  auto r = eng.run(flow, {}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("text") == "Hello there");
  CHECK(r.outputs.at("message") == value{{"role", "assistant"}, {"content", "Hello there"}});
  CHECK(r.outputs.at("tool_calls") == value::array());
  CHECK(r.outputs.at("usage") ==
        value{{"input_tokens", 12}, {"output_tokens", 3}, {"total_tokens", 15}});
  CHECK(r.outputs.at("finish_reason") == "stop");

  srv.push(
      chat_reply::tools({{"call_a", "lookup", R"({"q":"x"})"}, {"call_b", "add", R"({"a":1})"}}));
  r = eng.run(flow, {}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("text") == "");
  CHECK(r.outputs.at("message")["content"].is_null());
  CHECK(r.outputs.at("finish_reason") == "tool_calls");
  auto calls = r.outputs.at("tool_calls");
  REQUIRE(calls.size() == 2);
  CHECK(calls[0]["id"] == "call_a");
  CHECK(calls[0]["function"]["name"] == "lookup");
  CHECK(calls[0]["function"]["arguments"] == R"({"q":"x"})");
  CHECK(calls[1]["function"]["name"] == "add");
  CHECK(r.outputs.at("message")["tool_calls"] == calls);
}

TEST_CASE("llm.chat: a streamed reply gives chunk events and the same outputs",
          "[llm][llm_chat][stream]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, chat_flow(srv, "stream: true"));
  for (std::size_t split : {0, 1, 2, 3, 5, 7, 13}) {
    chat_reply a =
        chat_reply::text("The quick brown fox jumps over the lazy dog, \xC3\xA9t\xC3\xA9!");
    a.write_split = split;
    a.split_pause = 0us;
    a.tool_calls = {{"call_1", "f", R"({"k":"v","n":[1,2,3]})"}};
    a.finish_reason = "tool_calls";
    srv.push(a);
    std::mutex mu;
    std::string joined;
    int chunk_events = 0;
    run_options o;
    o.on_event = [&](const run_event& e) {
      if (e.type != run_event::kind::chunk) return;
      std::lock_guard<std::mutex> lk(mu);
      ++chunk_events;
      CHECK(e.path == std::vector<std::string>{"ask"});
      joined += e.data.get<std::string>();
    };
    auto r = eng.run(flow, {}, o).get();
    INFO("write_split " << split << ": " << r.error);
    REQUIRE(r.ok);
    CHECK(r.outputs.at("text") ==
          "The quick brown fox jumps over the lazy dog, \xC3\xA9t\xC3\xA9!");
    CHECK(joined == r.outputs.at("text").get<std::string>());
    CHECK(chunk_events == 10);  // one per word
    CHECK(r.outputs.at("finish_reason") == "tool_calls");
    REQUIRE(r.outputs.at("tool_calls").size() == 1);
    CHECK(r.outputs.at("tool_calls")[0]["function"]["arguments"] == R"({"k":"v","n":[1,2,3]})");
    CHECK(r.outputs.at("usage")["input_tokens"] == 10);
  }
  auto last = srv.requests().back();
  CHECK(last.json["stream"] == true);
  CHECK(last.json["stream_options"]["include_usage"] == true);
  CHECK(last.header("accept") == "text/event-stream");
}

TEST_CASE("llm.chat: stream faults fail the node, named", "[llm][llm_chat][stream]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, chat_flow(srv, "stream: true"));
  auto run_with = [&](chat_reply a) {
    srv.push(a);
    return eng.run(flow, {}).get();
  };
  chat_reply base = chat_reply::text("one two three four five");

  auto t = base;
  t.truncate_after_events = 3;
  auto r = run_with(t);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("truncated stream"));

  auto e = base;
  e.error_event = 2;
  e.error_event_message = "The model is overloaded";
  r = run_with(e);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("The model is overloaded"));

  auto m = base;
  m.malformed_after_events = 2;
  r = run_with(m);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("malformed stream"));

  // A reset after content was delivered is not retried: the observer has
  // seen those chunks.
  auto reset = base;
  reset.reset_after_events = 3;
  const auto before = srv.request_count();
  r = run_with(reset);
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("stream broke after"));
  CHECK(srv.request_count() == before + 1);
}

TEST_CASE("llm.chat: retry rules, with the waits they ask for", "[llm][llm_chat][retry]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, chat_flow(srv));
  auto gap_ms = [&](std::size_t a, std::size_t b) {
    return std::chrono::duration<double, std::milli>(srv.request(b).received -
                                                     srv.request(a).received)
        .count();
  };

  SECTION("429 with retry-after-ms is obeyed") {
    auto e = chat_reply::error(429);
    e.headers = {{"retry-after-ms", "300"}, {"retry-after", "9"}};
    srv.push(e);
    auto r = eng.run(flow, {}).get();
    INFO(r.error);
    REQUIRE(r.ok);
    REQUIRE(srv.request_count() == 2);
    CHECK(gap_ms(0, 1) >= 290);
    CHECK(gap_ms(0, 1) < 3000);
  }
  SECTION("retry-after in seconds") {
    auto e = chat_reply::error(503);
    e.headers = {{"retry-after", "1"}};
    srv.push(e);
    auto r = eng.run(flow, {}).get();
    REQUIRE(r.ok);
    CHECK(gap_ms(0, 1) >= 990);
  }
  SECTION("408, 409 and 5xx are retried with backoff; after max_retries the node fails") {
    srv.push(chat_reply::error(408));
    srv.push(chat_reply::error(409));
    auto r = eng.run(flow, {}).get();
    REQUIRE(r.ok);
    CHECK(srv.request_count() == 3);
    for (int i = 0; i < 3; ++i) srv.push(chat_reply::error(500));
    r = eng.run(flow, {}).get();
    CHECK_FALSE(r.ok);
    CHECK(srv.request_count() == 6);
    CHECK_THAT(r.error, Catch::Contains("500 after 3 attempt(s)"));
    // Backoff: initial 20 ms then 40 ms, times a jitter in [0.75, 1].
    CHECK(gap_ms(3, 4) >= 14);
    CHECK(gap_ms(4, 5) >= 29);
  }
  SECTION("400 and 401 are not retried; x-should-retry overrides the status") {
    srv.push(chat_reply::error(400, "bad request: messages[0] is missing"));
    auto r = eng.run(flow, {}).get();
    CHECK_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("messages[0] is missing"));
    CHECK(srv.request_count() == 1);
    auto no = chat_reply::error(500);
    no.headers = {{"x-should-retry", "false"}};
    srv.push(no);
    r = eng.run(flow, {}).get();
    CHECK_FALSE(r.ok);
    CHECK(srv.request_count() == 2);
    auto yes = chat_reply::error(400);
    yes.headers = {{"x-should-retry", "true"}};
    srv.push(yes);
    r = eng.run(flow, {}).get();
    CHECK(r.ok);
    CHECK(srv.request_count() == 4);
  }
  SECTION("a connection reset is retried") {
    chat_reply reset = chat_reply::text("never");
    reset.stream = true;
    reset.reset_after_events = 0;
    srv.push(reset);
    auto r = eng.run(flow, {}).get();
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(srv.request_count() == 2);
  }
  SECTION("each attempt is an HTTP span under the chat span") {
    srv.push(chat_reply::error(502));
    auto r = eng.run(flow, {}).get();
    REQUIRE(r.ok);
    auto spans = wait_spans(*st, r.trace_id, 5);
    auto chat = named(spans, "chat m1");
    REQUIRE(chat);
    auto https = all_named(spans, "HTTP POST");
    REQUIRE(https.size() == 2);
    for (auto h : https) {
      CHECK(h->parent == chat->id);
      CHECK(h->kind == tracing::span_kind::client);
    }
    CHECK(int_attr(*https[0], "http.response.status_code") == 502);
    CHECK(https[0]->status == tracing::status_code::error);
    CHECK(int_attr(*https[1], "http.request.resend_count") == 1);
    CHECK(int_attr(*https[1], "http.response.status_code") == 200);
  }
}

TEST_CASE("llm.chat: response_format validates the reply with its schema",
          "[llm][llm_chat][schema]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  const std::string rf =
      "response_format: {name: person, schema: {type: object, required: [name, age], "
      "properties: {name: {type: string}, age: {type: integer, minimum: 0}}}}";
  auto flow = must_load(eng, chat_flow(srv, rf, "{prompt: $inputs.prompt}", ", json: ask.json"));
  srv.push(chat_reply::text(R"({"name":"Ada","age":36})"));
  auto r = eng.run(flow, {}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("json") == value{{"name", "Ada"}, {"age", 36}});
  auto sent = srv.request(0).json["response_format"];
  CHECK(sent["type"] == "json_schema");
  CHECK(sent["json_schema"]["name"] == "person");
  CHECK(sent["json_schema"]["strict"] == true);
  CHECK(sent["json_schema"]["schema"]["required"] == value::array({"name", "age"}));

  srv.push(chat_reply::text(R"({"name":"Ada","age":-1})"));
  r = eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("age"));
  CHECK_THAT(r.error, Catch::Contains("person"));

  srv.push(chat_reply::text("Sure! Here it is: {name: Ada}"));
  r = eng.run(flow, {}).get();
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("not JSON"));

  // retry_invalid: the model is asked again, shown what was wrong.
  auto again = must_load(eng, chat_flow(srv, rf + ", retry_invalid: 1", "{prompt: $inputs.prompt}",
                                        ", json: ask.json"));
  srv.push(chat_reply::text(R"({"name":"Ada"})"));
  chat_reply good = chat_reply::text(R"({"name":"Ada","age":36})");
  srv.push(good);
  const auto before = srv.request_count();
  r = eng.run(again, {}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(srv.request_count() == before + 2);
  auto second = srv.request(before + 1).json["messages"];
  REQUIRE(second.size() == 3);
  CHECK(second[1]["role"] == "assistant");
  CHECK(second[1]["content"] == R"({"name":"Ada"})");
  CHECK(second[2]["role"] == "user");
  CHECK_THAT(second[2]["content"].get<std::string>(), Catch::Contains("age"));
  CHECK(r.outputs.at("usage")["input_tokens"] == 20);  // summed over both asks
}

TEST_CASE("llm.chat: the chat span carries the GenAI attributes", "[llm][llm_chat][genai]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow =
      must_load(eng, chat_flow(srv,
                               "provider: vllm, temperature: 0.5, top_p: 0.9, max_tokens: 100, "
                               "seed: 7, stop: [X], price_per_mtok: {input: 2.0, output: 8.0}"));
  chat_reply a = chat_reply::text("hi");
  a.id = "chatcmpl-abc";
  a.model = "m1-2026-01-01";
  a.usage = {1000, 500, 200, 50};
  srv.push(a);
  run_options o;
  o.session_id = "sess-1";
  o.user_id = "user-1";
  auto r = eng.run(flow, {}, o).get();
  INFO(r.error);
  REQUIRE(r.ok);
  auto spans = wait_spans(*st, r.trace_id, 4);
  auto node = named(spans, "ask");
  auto chat = named(spans, "chat m1");
  REQUIRE(node);
  REQUIRE(chat);
  CHECK(chat->parent == node->id);
  CHECK(chat->kind == tracing::span_kind::client);
  CHECK(str_attr(*chat, "gen_ai.operation.name") == "chat");
  CHECK(str_attr(*chat, "gen_ai.provider.name") == "vllm");
  CHECK(str_attr(*chat, "gen_ai.request.model") == "m1");
  CHECK(double_attr(*chat, "gen_ai.request.temperature") == 0.5);
  CHECK(double_attr(*chat, "gen_ai.request.top_p") == 0.9);
  CHECK(int_attr(*chat, "gen_ai.request.max_tokens") == 100);
  CHECK(int_attr(*chat, "gen_ai.request.seed") == 7);
  CHECK(strings_attr(*chat, "gen_ai.request.stop_sequences") == std::vector<std::string>{"X"});
  CHECK(str_attr(*chat, "gen_ai.response.id") == "chatcmpl-abc");
  CHECK(str_attr(*chat, "gen_ai.response.model") == "m1-2026-01-01");
  CHECK(strings_attr(*chat, "gen_ai.response.finish_reasons") == std::vector<std::string>{"stop"});
  CHECK(int_attr(*chat, "gen_ai.usage.input_tokens") == 1000);
  CHECK(int_attr(*chat, "gen_ai.usage.output_tokens") == 500);
  CHECK(int_attr(*chat, "gen_ai.usage.cache_read.input_tokens") == 200);
  CHECK(int_attr(*chat, "gen_ai.usage.reasoning.output_tokens") == 50);
  CHECK(str_attr(*chat, "server.address") == "127.0.0.1");
  CHECK(int_attr(*chat, "server.port") == srv.port());
  CHECK(double_attr(*chat, "weft.llm.cost.input") == Approx(0.002));
  CHECK(double_attr(*chat, "weft.llm.cost.output") == Approx(0.004));
  CHECK(double_attr(*chat, "weft.llm.cost.total") == Approx(0.006));
  CHECK(str_attr(*chat, "session.id") == "sess-1");
  CHECK(str_attr(*chat, "user.id") == "user-1");
  CHECK_FALSE(chat->find("error.type"));
  CHECK(chat->status != tracing::status_code::error);
  // Without content tracing, no message text.
  CHECK_FALSE(chat->find("gen_ai.input.messages"));
  CHECK_FALSE(chat->find("gen_ai.output.messages"));
  CHECK_FALSE(chat->find("gen_ai.system_instructions"));
  // The node span is no generation: no model attributes on it.
  for (auto& at : node->attributes) CHECK_FALSE(at.key.starts_with("gen_ai."));

  // The OTLP/JSON encoding of the chat span is valid: it parses as JSON,
  // each attribute is a typed AnyValue (doubles as doubleValue, ints as
  // decimal strings in intValue, arrays as arrayValue), and it reads back
  // the same.
  auto line = tracing::encode_export_request({*chat}, {});
  auto doc = value::parse(line, nullptr, false);
  REQUIRE_FALSE(doc.is_discarded());
  auto attrs = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
  std::map<std::string, value> by_key;
  for (auto& a : attrs) by_key[a["key"].get<std::string>()] = a["value"];
  CHECK(by_key["gen_ai.request.temperature"] == value{{"doubleValue", 0.5}});
  CHECK(by_key["gen_ai.usage.input_tokens"] == value{{"intValue", "1000"}});
  CHECK(by_key["gen_ai.response.finish_reasons"] ==
        value::parse(R"({"arrayValue":{"values":[{"stringValue":"stop"}]}})"));
  CHECK(by_key["gen_ai.operation.name"] == value{{"stringValue", "chat"}});
  CHECK(doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["kind"] == 3);  // CLIENT
  std::string error;
  auto back = tracing::read_otlp_json_line(line, &error);
  INFO(error);
  REQUIRE(back.size() == 1);
  CHECK(back[0].attributes.size() == chat->attributes.size());
  for (auto& a : chat->attributes) {
    auto v = back[0].find(a.key);
    REQUIRE(v);
    CHECK(*v == a.value);
  }
}

TEST_CASE("llm.chat: with content tracing the messages are on the span, secrets masked",
          "[llm][llm_chat][genai]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.tracing.content = true;
  engine eng(std::move(opts));
  auto flow = must_load(eng, chat_flow(srv, "api_key: sk-secret-9876543210fedcba, stream: true",
                                       "{prompt: $inputs.prompt, system: $inputs.system}"));
  srv.push(chat_reply::text("Your key is sk-secret-9876543210fedcba"));
  auto r = eng.run(flow, {{"prompt", "repeat sk-secret-9876543210fedcba"}, {"system", "You echo."}})
               .get();
  INFO(r.error);
  REQUIRE(r.ok);
  auto spans = wait_spans(*st, r.trace_id, 4);
  auto chat = named(spans, "chat m1");
  REQUIRE(chat);
  auto in = value::parse(str_attr(*chat, "gen_ai.input.messages"));
  REQUIRE(in.is_array());
  REQUIRE(in.size() == 1);
  CHECK(in[0]["role"] == "user");
  CHECK(in[0]["parts"][0]["type"] == "text");
  CHECK(in[0]["parts"][0]["content"] == "repeat ***");
  auto sys = value::parse(str_attr(*chat, "gen_ai.system_instructions"));
  CHECK(sys == value::parse(R"([{"type":"text","content":"You echo."}])"));
  auto out = value::parse(str_attr(*chat, "gen_ai.output.messages"));
  CHECK(out[0]["role"] == "assistant");
  CHECK(out[0]["parts"][0]["content"] == "Your key is ***");
  CHECK(out[0]["finish_reason"] == "stop");
  CHECK(double_attr(*chat, "weft.llm.time_to_first_chunk_ms") > 0);
  CHECK(all_text(spans).find("9876543210fedcba") == std::string::npos);
}

TEST_CASE("llm.chat: the API key is never in spans, errors or logs", "[llm][llm_chat][redaction]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.tracing.content = true;
  ::setenv("WEFT_TEST_LLM_KEY", "sk-live-AbCdEf0123456789XyZ", 1);
  engine eng(std::move(opts));
  auto flow = must_load(eng, chat_flow(srv, "api_key: '${WEFT_TEST_LLM_KEY}'"));
  ::unsetenv("WEFT_TEST_LLM_KEY");
  // The server echoes the key in its error, as OpenAI's 401 does in part.
  srv.push(chat_reply::error(401, "Incorrect API key provided: sk-live-AbCdEf0123456789XyZ."));
  auto r = eng.run(flow, {}).get();
  REQUIRE_FALSE(r.ok);
  CHECK(srv.request(0).header("authorization") == "Bearer sk-live-AbCdEf0123456789XyZ");
  CHECK_THAT(r.error, Catch::Contains("401"));
  CHECK(r.error.find("AbCdEf0123456789") == std::string::npos);
  auto spans = wait_spans(*st, r.trace_id, 4);
  CHECK(all_text(spans).find("AbCdEf0123456789") == std::string::npos);
  auto chat = named(spans, "chat m1");
  REQUIRE(chat);
  CHECK(str_attr(*chat, "error.type") == "401");
  CHECK(chat->status == tracing::status_code::error);
}

TEST_CASE("llm.chat: a run timeout mid-stream closes the connection and ends every span",
          "[llm][llm_chat][cancel]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(eng, chat_flow(srv, "stream: true"));
  chat_reply parked = chat_reply::text("a b c d e f");
  parked.park_after_events = 3;
  srv.push(parked);
  run_options o;
  o.timeout_ms = 300;
  std::atomic<int> chunks{0};
  o.on_event = [&](const run_event& e) {
    if (e.type == run_event::kind::chunk) ++chunks;
  };
  auto t0 = std::chrono::steady_clock::now();
  auto r = eng.run(flow, {}, o).get();
  CHECK_FALSE(r.ok);
  CHECK(r.timed_out);
  CHECK(chunks.load() == 2);  // the role chunk carries no content
  CHECK(std::chrono::steady_clock::now() - t0 < 3s);
  REQUIRE(srv.wait_for([&] { return srv.request(0).closed_early.has_value(); }, 3000ms));
  auto spans = wait_spans(*st, r.trace_id, 4);
  REQUIRE(spans.size() == 4);  // run, node, chat, HTTP POST
  for (auto& s : spans) {
    INFO(s.name);
    CHECK(s.end_unix_ns >= s.start_unix_ns);
    CHECK(s.end_unix_ns > 0);
    CHECK(s.status == tracing::status_code::error);
  }
}

TEST_CASE("llm.chat: bad params are load errors at their line", "[llm][llm_chat][validation]") {
  engine eng(engine_options{});
  auto load = [&](const std::string& params) {
    auto r = eng.load_string(
        "flow: v\ninputs: {p: {type: string}}\nnodes:\n  ask:\n    type: llm.chat\n    params: " +
            params + "\n    inputs: {prompt: $inputs.p}\n",
        "v.yaml");
    std::string all;
    for (auto& d : r.errors) all += d.to_string() + "\n";
    return all;
  };
  CHECK_THAT(load("{base_url: 'http://127.0.0.1:1/v1'}"), Catch::Contains("model"));
  CHECK_THAT(load("{model: m, temperature: 3}"), Catch::Contains("v.yaml:6"));
  CHECK_THAT(load("{model: m, temperature: 3}"), Catch::Contains("temperature"));
  CHECK_THAT(load("{model: m, base_url: 'ftp://x'}"), Catch::Contains("http:// or https://"));
  CHECK_THAT(load("{model: m, response_format: {schema: {type: 12}}}"),
             Catch::Contains("not a valid JSON Schema"));
  CHECK_THAT(load("{model: m, retry_invalid: 2}"),
             Catch::Contains("only applies with response_format"));
  CHECK_THAT(load("{model: m, tools: [{description: x}]}"), Catch::Contains("needs a 'name'"));
  CHECK_THAT(load("{model: m, max_tokens_field: n}"), Catch::Contains("max_completion_tokens"));
  CHECK_THAT(load("{model: m, price_per_mtok: {input: 1}}"), Catch::Contains("price_per_mtok"));
  CHECK(load("{model: m, base_url: 'http://127.0.0.1:1/v1'}").empty());
  // `json` exists only with response_format.
  auto r = eng.load_string(
      "flow: v\ninputs: {p: {type: string}}\nnodes:\n  ask: {type: llm.chat, params: {model: m}, "
      "inputs: {prompt: $inputs.p}}\n"
      "outputs: {j: ask.json}\n",
      "v.yaml");
  REQUIRE_FALSE(r.flow);
  CHECK_THAT(r.errors.at(0).to_string(), Catch::Contains("json"));
}

TEST_CASE("llm.chat: inputs that make no transcript fail the node", "[llm][llm_chat]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto both =
      must_load(eng, chat_flow(srv, "", "{prompt: $inputs.prompt, messages: $inputs.messages}"));
  auto r = eng.run(both, {{"messages", value::parse(R"([{"role":"user","content":"x"}])")}}).get();
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("not both"));
  auto msgs = must_load(eng, chat_flow(srv, "", "{messages: $inputs.messages}"));
  r = eng.run(msgs, {{"messages", value::parse(R"([{"content":"x"}])")}}).get();
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("message 0 needs a string 'role'"));
  CHECK(srv.request_count() == 0);
}

TEST_CASE("llm.chat: the model input picks the model for one run", "[llm][llm_chat]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = must_load(
      eng,
      "flow: pick\ninputs: {p: {type: string}, model: {type: string, default: m1}}\nnodes:\n"
      "  ask: {type: llm.chat, params: {model: m1, base_url: '" +
          srv.base_url() +
          "'}, inputs: {prompt: $inputs.p, model: $inputs.model}}\noutputs: {t: ask.text}\n");
  auto r = eng.run(flow, {{"p", "x"}, {"model", "llama3.2:1b"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(srv.request(0).json["model"] == "llama3.2:1b");
  auto spans = wait_spans(*st, r.trace_id, 4);
  auto chat = find_span(spans, "chat llama3.2:1b");
  REQUIRE(chat);
  CHECK(str_attr(*chat, "gen_ai.request.model") == "llama3.2:1b");
  r = eng.run(flow, {{"p", "x"}}).get();
  REQUIRE(r.ok);
  CHECK(srv.request(1).json["model"] == "m1");
}

TEST_CASE("llm.chat: each call is counted in the run's usage and reaches on_llm_call",
          "[llm][llm_chat]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  std::mutex mu;
  std::vector<llm_call_record> calls;
  opts.on_llm_call = [&](const llm_call_record& c) {
    std::lock_guard<std::mutex> lk(mu);
    calls.push_back(c);
  };
  engine eng(std::move(opts));
  // Two calls, one of them a sub-flow down: the top-level run sums both.
  auto flow = must_load(
      eng,
      "flow: two\ninputs: {p: {type: string}}\nnodes:\n"
      "  a: {type: llm.chat, params: {model: m1, provider: vllm, base_url: '" +
          srv.base_url() +
          "'}, inputs: {prompt: $inputs.p}}\n"
          "  b:\n    type: flow\n    params:\n      flow:\n        inputs: {p: {type: string}}\n"
          "        nodes: {c: {type: llm.chat, params: {model: m2, base_url: '" +
          srv.base_url() +
          "'}, inputs: {prompt: $inputs.p}}}\n        outputs: {t: c.text}\n"
          "    inputs: {p: a.text}\noutputs: {t: b.t}\n");
  chat_reply one = chat_reply::text("first");
  one.usage = {100, 10, {}, {}};
  chat_reply two = chat_reply::text("second");
  two.usage = {200, 20, {}, {}};
  srv.push(one);
  srv.push(two);
  auto r = eng.run(flow, {{"p", "x"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.input_tokens == 300);
  CHECK(r.output_tokens == 30);
  std::unique_lock<std::mutex> lk(mu);
  REQUIRE(calls.size() == 2);
  CHECK(calls[0].operation == "chat");
  CHECK(calls[0].provider == "vllm");
  CHECK(calls[0].model == "m1");
  CHECK(calls[0].input_tokens == 100);
  CHECK(calls[0].output_tokens == 10);
  CHECK(calls[0].duration_s > 0);
  CHECK(calls[0].error_type.empty());
  CHECK(calls[1].model == "m2");
  CHECK(calls[1].provider == "openai");
  lk.unlock();  // the hook takes it
  srv.push(chat_reply::error(400));
  r = eng.run(flow, {{"p", "x"}}).get();
  CHECK_FALSE(r.ok);
  lk.lock();
  CHECK(calls.size() == 3);
  CHECK(calls[2].error_type == "400");
}
