// weft serve's OpenAI-compatible routes over real loopback sockets, with
// flows whose llm.chat nodes call the loopback Chat Completions server:
// /v1/models, chat.completion and its chunks field by field, [DONE] and the
// usage chunk, the prompt and messages mappings, and every error case.
#include <catch2/catch.hpp>

#include "components/llm_sse.hpp"
#include "support/chat_server.hpp"
#include "support/prometheus_text.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> chat_flows(const chat_server& llm) {
  const std::string url = llm.base_url();
  return {
      "flow: assistant\ninputs: {messages: {type: array}}\nnodes:\n"
      "  ask: {type: llm.chat, params: {model: m1, stream: true, base_url: '" +
          url +
          "'}, inputs: {messages: $inputs.messages}}\n"
          "outputs: {text: ask.text}\n",
      "flow: summary\ninputs: {prompt: {type: string}}\nnodes:\n"
      "  pre: {type: template, params: {template: 'Summarise: {{p}}'}, inputs: {p: "
      "$inputs.prompt}}\n"
      "  ask: {type: llm.chat, params: {model: m2, base_url: '" +
          url +
          "'}, inputs: {prompt: pre.text}}\n"
          "outputs: {text: ask.text}\n",
      "flow: nested\ninputs: {prompt: {type: string}}\nnodes:\n"
      "  sub:\n    type: flow\n    params:\n      flow:\n        inputs: {p: {type: string}}\n"
      "        nodes: {ask: {type: llm.chat, params: {model: m3, stream: true, base_url: '" +
          url +
          "'}, inputs: {prompt: $inputs.p}}}\n"
          "        outputs: {text: ask.text}\n    inputs: {p: $inputs.prompt}\n"
          "outputs: {text: sub.text}\n",
      "flow: broken\ninputs: {prompt: {type: string}}\nnodes:\n"
      "  boom: {type: fail, params: {message: the model is on fire}, inputs: {value: "
      "$inputs.prompt}}\n"
      "outputs: {text: boom.value}\n"};
}

std::string post_chat(const std::string& body, const std::string& extra = "") {
  return json_post("/v1/chat/completions", body, extra);
}

value body_of(const raw_response& r) { return value::parse(r.body, nullptr, false); }

// The data: payloads of an OpenAI stream, in order.
std::vector<std::string> data_lines(const std::string& body) {
  components::sse_parser p;
  std::vector<std::string> out;
  p.feed(body, [&](const components::sse_event& e) {
    out.push_back(e.data);
    return true;
  });
  return out;
}

void check_error(const raw_response& r, int status, const char* type, const char* param,
                 const char* code) {
  INFO(r.body);
  CHECK(r.status == status);
  auto b = body_of(r);
  REQUIRE(b.contains("error"));
  const auto& e = b["error"];
  CHECK(e["message"].is_string());
  CHECK(e["type"] == type);
  if (param) CHECK(e["param"] == param);
  else CHECK(e["param"].is_null());
  if (code) CHECK(e["code"] == code);
  else CHECK(e["code"].is_null());
}

}  // namespace

TEST_CASE("openai: /v1/models lists the flows that are chat models", "[serve][openai]") {
  chat_server llm;
  serve_fixture f({}, {}, {}, chat_flows(llm));
  auto r = http_exchange(f.port(), get_request("/v1/models"));
  REQUIRE(r);
  CHECK(r->status == 200);
  auto b = body_of(*r);
  CHECK(b["object"] == "list");
  std::set<std::string> ids;
  for (auto& m : b["data"]) {
    ids.insert(m["id"].get<std::string>());
    CHECK(m["object"] == "model");
    CHECK(m["created"].is_number_integer());
    CHECK(m["owned_by"] == "weft");
  }
  CHECK(ids == std::set<std::string>{"assistant", "broken", "nested", "summary"});
}

TEST_CASE("openai: a chat.completion, field by field", "[serve][openai]") {
  chat_server llm;
  serve_fixture f({}, {}, {}, chat_flows(llm));
  chat_reply a = chat_reply::text("Hello from the flow.");
  a.usage = {31, 7, {}, {}};
  llm.push(a);
  const std::string msgs =
      R"([{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}])";
  auto r = http_exchange(
      f.port(), post_chat(R"({"model":"assistant","messages":)" + msgs + R"(,"user":"u-42"})"));
  REQUIRE(r);
  INFO(r->body);
  CHECK(r->status == 200);
  CHECK_THAT(*r->header("content-type"), Catch::StartsWith("application/json"));
  auto b = body_of(*r);
  CHECK_THAT(b["id"].get<std::string>(), Catch::StartsWith("chatcmpl-"));
  CHECK(b["object"] == "chat.completion");
  CHECK(b["created"].is_number_integer());
  CHECK(b["model"] == "assistant");
  REQUIRE(b["choices"].size() == 1);
  CHECK(b["choices"][0]["index"] == 0);
  CHECK(b["choices"][0]["message"] ==
        value{{"role", "assistant"}, {"content", "Hello from the flow."}});
  CHECK(b["choices"][0]["finish_reason"] == "stop");
  CHECK(b["usage"] == value{{"prompt_tokens", 31}, {"completion_tokens", 7}, {"total_tokens", 38}});
  // The messages went to the model as sent; `user` is the run's user.
  CHECK(llm.request(0).json["messages"] == value::parse(msgs));
  bool found = false;
  for (int i = 0; i < 300 && !found; ++i) {
    for (auto& s : f.store->snapshot())
      if (s.name == "assistant") found = str_attr(s, "user.id") == "u-42";
    if (!found) std::this_thread::sleep_for(10ms);
  }
  CHECK(found);

  // A prompt flow gets the last user message (text parts joined).
  llm.push(chat_reply::text("short"));
  r = http_exchange(f.port(),
                    post_chat(R"({"model":"summary","messages":[{"role":"user","content":"old"},
      {"role":"assistant","content":"x"},{"role":"user","content":[{"type":"text","text":"new "},{"type":"text","text":"text"}]}]})"));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(body_of(*r)["choices"][0]["message"]["content"] == "short");
  CHECK(llm.request(1).json["messages"][0]["content"] == "Summarise: new text");
}

TEST_CASE("openai: streamed chunks, the usage chunk and [DONE]", "[serve][openai][sse]") {
  chat_server llm;
  serve_fixture f({}, {}, {}, chat_flows(llm));
  for (const char* model : {"assistant", "nested"}) {
    for (bool usage : {false, true}) {
      INFO(model << " include_usage=" << usage);
      chat_reply a = chat_reply::text("one two three");
      a.usage = {11, 3, {}, {}};
      llm.push(a);
      std::string body = std::string(R"({"model":")") + model +
                         R"(","stream":true,"messages":[{"role":"user","content":"go"}])" +
                         (usage ? R"(,"stream_options":{"include_usage":true}})" : "}");
      auto r = http_exchange(f.port(), post_chat(body));
      REQUIRE(r);
      CHECK(r->status == 200);
      CHECK(r->header("content-type") == "text/event-stream");
      auto lines = data_lines(r->body);
      REQUIRE(lines.size() >= 4);
      CHECK(lines.back() == "[DONE]");
      std::vector<value> chunks;
      for (std::size_t i = 0; i + 1 < lines.size(); ++i) chunks.push_back(value::parse(lines[i]));
      const auto id = chunks[0]["id"];
      for (auto& c : chunks) {
        CHECK(c["id"] == id);
        CHECK(c["object"] == "chat.completion.chunk");
        CHECK(c["created"].is_number_integer());
        CHECK(c["model"] == model);
        CHECK(c.contains("usage") == usage);
      }
      CHECK(chunks[0]["choices"][0]["delta"] == value{{"role", "assistant"}, {"content", ""}});
      CHECK(chunks[0]["choices"][0]["finish_reason"].is_null());
      std::string text;
      std::size_t last = chunks.size() - (usage ? 2 : 1);
      for (std::size_t i = 1; i < last; ++i) {
        CHECK(chunks[i]["choices"][0]["index"] == 0);
        CHECK(chunks[i]["choices"][0]["finish_reason"].is_null());
        text += chunks[i]["choices"][0]["delta"]["content"].get<std::string>();
      }
      CHECK(last == 4);  // role, three words
      CHECK(text == "one two three");
      CHECK(chunks[last]["choices"][0]["delta"] == value::object());
      CHECK(chunks[last]["choices"][0]["finish_reason"] == "stop");
      if (usage) {
        CHECK(chunks.back()["choices"] == value::array());
        CHECK(chunks.back()["usage"] ==
              value{{"prompt_tokens", 11}, {"completion_tokens", 3}, {"total_tokens", 14}});
      }
    }
  }
}

TEST_CASE("openai: every error in OpenAI's shape", "[serve][openai]") {
  chat_server llm;
  serve::service_config sc;
  sc.max_inflight = 1;
  serve_fixture f(sc, {}, {}, chat_flows(llm));
  auto ask = [&](const std::string& body) {
    auto r = http_exchange(f.port(), post_chat(body));
    REQUIRE(r);
    return *r;
  };
  check_error(ask(R"({"messages":[{"role":"user","content":"x"}]})"), 400, "invalid_request_error",
              "model", nullptr);
  check_error(ask(R"({"model":"assistant"})"), 400, "invalid_request_error", "messages", nullptr);
  check_error(ask(R"({"model":"assistant","messages":[]})"), 400, "invalid_request_error",
              "messages", nullptr);
  check_error(ask(R"({"model":"assistant","messages":[{"role":"user"},{"content":"x"}]})"), 400,
              "invalid_request_error", "messages[1].role", nullptr);
  check_error(
      ask(R"({"model":"assistant","messages":[{"role":"user","content":"x"}],"stream":"yes"})"),
      400, "invalid_request_error", "stream", nullptr);
  check_error(ask("{not json"), 400, "invalid_request_error", nullptr, nullptr);
  check_error(ask(R"({"model":"nope","messages":[{"role":"user","content":"x"}]})"), 404,
              "invalid_request_error", "model", "model_not_found");
  check_error(ask(R"({"model":"echo","messages":[{"role":"user","content":"x"}]})"), 404,
              "invalid_request_error", "model", "model_not_found");
  check_error(ask(R"({"model":"summary","messages":[{"role":"system","content":"x"}]})"), 400,
              "invalid_request_error", "messages", nullptr);
  auto get = http_exchange(f.port(), get_request("/v1/chat/completions"));
  REQUIRE(get);
  check_error(*get, 405, "invalid_request_error", nullptr, nullptr);

  // A failed run: 500, naming the node.
  auto failed = ask(R"({"model":"broken","messages":[{"role":"user","content":"x"}]})");
  check_error(failed, 500, "server_error", nullptr, "run_failed");
  CHECK_THAT(body_of(failed)["error"]["message"].get<std::string>(), Catch::Contains("boom"));

  // Backpressure: with one run in flight (a slow model), the next is 429.
  chat_reply slow = chat_reply::text("late");
  slow.delay = 600ms;
  llm.push(slow);
  raw_conn first(f.port());
  REQUIRE(
      first.send(post_chat(R"({"model":"summary","messages":[{"role":"user","content":"x"}]})")));
  REQUIRE(llm.wait_for([&] { return llm.request_count() >= 1; }, 3000ms));
  auto busy = ask(R"({"model":"summary","messages":[{"role":"user","content":"y"}]})");
  check_error(busy, 429, "rate_limit_error", nullptr, "rate_limit_exceeded");
  CHECK(busy.header("retry-after") == "1");
  auto late = first.read_response(5s);
  REQUIRE(late);
  CHECK(late->status == 200);
}

TEST_CASE("openai: 401 under WEFT_API_KEY, in OpenAI's shape", "[serve][openai]") {
  chat_server llm;
  serve::service_config sc;
  sc.api_key = "weft-secret-key-123";
  serve_fixture f(sc, {}, {}, chat_flows(llm));
  auto r = http_exchange(
      f.port(), post_chat(R"({"model":"assistant","messages":[{"role":"user","content":"x"}]})"));
  REQUIRE(r);
  check_error(*r, 401, "invalid_request_error", nullptr, "invalid_api_key");
  r = http_exchange(f.port(), get_request("/v1/models", "Authorization: Bearer wrong\r\n"));
  REQUIRE(r);
  check_error(*r, 401, "invalid_request_error", nullptr, "invalid_api_key");
  r = http_exchange(f.port(),
                    get_request("/v1/models", "Authorization: Bearer weft-secret-key-123\r\n"));
  REQUIRE(r);
  CHECK(r->status == 200);
}

TEST_CASE("openai: /metrics has the GenAI histograms of the model calls",
          "[serve][openai][metrics]") {
  chat_server llm;
  serve_fixture f({}, {}, {}, chat_flows(llm));
  chat_reply a = chat_reply::text("x");
  a.usage = {300, 20, {}, {}};
  llm.push(a);
  auto r = http_exchange(
      f.port(), post_chat(R"({"model":"summary","messages":[{"role":"user","content":"x"}]})"));
  REQUIRE(r);
  REQUIRE(r->status == 200);
  llm.push(chat_reply::error(400));
  r = http_exchange(f.port(),
                    post_chat(R"({"model":"summary","messages":[{"role":"user","content":"x"}]})"));
  REQUIRE(r);
  CHECK(r->status == 500);
  auto m = http_exchange(f.port(), get_request("/metrics"));
  REQUIRE(m);
  auto scrape = prometheus::parse(m->body);
  INFO(scrape.error);
  REQUIRE(scrape);
  auto family = prometheus::find_family(scrape.doc, "gen_ai_client_token_usage");
  REQUIRE(family);
  CHECK(family->type == "histogram");
  const prometheus::label_map in = {{"gen_ai_operation_name", "chat"},
                                    {"gen_ai_provider_name", "openai"},
                                    {"gen_ai_request_model", "m2"},
                                    {"gen_ai_token_type", "input"}};
  auto count = prometheus::find_sample(scrape.doc, "gen_ai_client_token_usage_count", in);
  REQUIRE(count);
  CHECK(count->value == 1);  // the failed call has no tokens
  auto sum = prometheus::find_sample(scrape.doc, "gen_ai_client_token_usage_sum", in);
  REQUIRE(sum);
  CHECK(sum->value == 300);
  auto le256 = in;
  le256["le"] = "256";
  auto le1024 = in;
  le1024["le"] = "1024";
  CHECK(prometheus::find_sample(scrape.doc, "gen_ai_client_token_usage_bucket", le256)->value == 0);
  CHECK(prometheus::find_sample(scrape.doc, "gen_ai_client_token_usage_bucket", le1024)->value ==
        1);
  auto out = in;
  out["gen_ai_token_type"] = "output";
  CHECK(prometheus::find_sample(scrape.doc, "gen_ai_client_token_usage_sum", out)->value == 20);
  prometheus::label_map ok = {{"gen_ai_operation_name", "chat"},
                              {"gen_ai_provider_name", "openai"},
                              {"gen_ai_request_model", "m2"},
                              {"error_type", ""}};
  auto failed = ok;
  failed["error_type"] = "400";
  REQUIRE(
      prometheus::find_sample(scrape.doc, "gen_ai_client_operation_duration_seconds_count", ok));
  CHECK(prometheus::find_sample(scrape.doc, "gen_ai_client_operation_duration_seconds_count", ok)
            ->value == 1);
  REQUIRE(prometheus::find_sample(scrape.doc, "gen_ai_client_operation_duration_seconds_count",
                                  failed));
  CHECK(
      prometheus::find_sample(scrape.doc, "gen_ai_client_operation_duration_seconds_count", failed)
          ->value == 1);
}
