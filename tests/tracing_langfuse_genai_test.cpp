// Langfuse and OpenTelemetry GenAI spans: the `llm.chat` and `agent`
// components' chat, invoke_agent and execute_tool spans become Langfuse
// generations, agents and tools, on the OTLP path (langfuse.* attributes)
// and on the legacy ingestion path (generation-create / span-create).
#include <catch2/catch.hpp>

#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "tracing/langfuse.hpp"

using namespace weft::tracing;
using nlohmann::json;

namespace {

constexpr std::uint64_t t0 = 1700000000123456789ULL;  // 2023-11-14T22:13:20.123456789Z

const char* input_messages =
    R"([{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}])";
const char* output_messages =
    R"([{"role":"assistant","parts":[{"type":"text","content":"Sunny."}],"finish_reason":"stop"}])";
const char* system_instructions = R"([{"type":"text","content":"You are terse."}])";

span_record base_span(std::string name, span_kind kind) {
  span_record s;
  s.trace = trace_id::random();
  s.id = span_id::random();
  s.parent = span_id::random();
  s.name = std::move(name);
  s.kind = kind;
  s.start_unix_ns = t0;
  s.end_unix_ns = t0 + 900'000'000;
  s.set("weft.run.id", std::string("run-1"));
  s.set("weft.flow.name", std::string("assistant"));
  s.set("session.id", std::string("sess-1"));
  s.set("user.id", std::string("user-1"));
  return s;
}

// An LLM call span with every attribute of the contract, as llm.chat
// records it for a streamed call with prices and content tracing on.
span_record chat_span() {
  span_record s = base_span("chat gpt-4o", span_kind::client);
  s.set("gen_ai.operation.name", std::string("chat"));
  s.set("gen_ai.provider.name", std::string("openai"));
  s.set("gen_ai.request.model", std::string("gpt-4o"));
  s.set("gen_ai.request.temperature", 0.2);
  s.set("gen_ai.request.top_p", 0.9);
  s.set("gen_ai.request.max_tokens", std::int64_t{256});
  s.set("gen_ai.request.seed", std::int64_t{42});
  s.set("gen_ai.request.stop_sequences", std::vector<std::string>{"\n\n", "END"});
  s.set("gen_ai.response.id", std::string("chatcmpl-123"));
  s.set("gen_ai.response.model", std::string("gpt-4o-2024-08-06"));
  s.set("gen_ai.response.finish_reasons", std::vector<std::string>{"stop"});
  s.set("gen_ai.usage.input_tokens", std::int64_t{100});
  s.set("gen_ai.usage.output_tokens", std::int64_t{50});
  s.set("gen_ai.usage.cache_read.input_tokens", std::int64_t{40});
  s.set("gen_ai.usage.reasoning.output_tokens", std::int64_t{20});
  s.set("server.address", std::string("api.openai.com"));
  s.set("server.port", std::int64_t{443});
  s.set("gen_ai.input.messages", std::string(input_messages));
  s.set("gen_ai.output.messages", std::string(output_messages));
  s.set("gen_ai.system_instructions", std::string(system_instructions));
  s.set("weft.llm.cost.input", 0.00025);
  s.set("weft.llm.cost.output", 0.0005);
  s.set("weft.llm.cost.total", 0.00075);
  s.set("weft.llm.time_to_first_chunk_ms", 250.5);
  return s;
}

// The same call without the optional parts: not streamed, no prices, no
// cache or reasoning tokens, only some request parameters, no content.
span_record plain_chat_span() {
  span_record s = base_span("chat gpt-4o-mini", span_kind::client);
  s.set("gen_ai.operation.name", std::string("chat"));
  s.set("gen_ai.provider.name", std::string("openai"));
  s.set("gen_ai.request.model", std::string("gpt-4o-mini"));
  s.set("gen_ai.request.temperature", 0.7);
  s.set("gen_ai.usage.input_tokens", std::int64_t{12});
  s.set("gen_ai.usage.output_tokens", std::int64_t{34});
  return s;
}

span_record node_span(std::string id, std::string type) {
  span_record s = base_span(id, span_kind::internal);
  s.set("weft.node.id", id);
  s.set("weft.node.type", std::move(type));
  s.set("weft.inputs", std::string(R"({"question":"Weather in Paris?"})"));
  s.set("weft.outputs", std::string(R"({"answer":"Sunny."})"));
  return s;
}

span_record agent_span() {
  span_record s = base_span("invoke_agent planner", span_kind::internal);
  s.set("gen_ai.operation.name", std::string("invoke_agent"));
  s.set("gen_ai.agent.name", std::string("planner"));
  s.set("gen_ai.usage.input_tokens", std::int64_t{300});
  s.set("gen_ai.usage.output_tokens", std::int64_t{90});
  return s;
}

span_record tool_span() {
  span_record s = base_span("execute_tool get_weather", span_kind::internal);
  s.set("gen_ai.operation.name", std::string("execute_tool"));
  s.set("gen_ai.tool.name", std::string("get_weather"));
  s.set("gen_ai.tool.call.id", std::string("call_1"));
  s.set("gen_ai.tool.type", std::string("function"));
  s.set("gen_ai.tool.call.arguments", std::string(R"({"city":"Paris"})"));
  s.set("gen_ai.tool.call.result", std::string(R"({"sky":"sunny"})"));
  return s;
}

span_record mapped(span_record s, bool content) {
  std::vector<span_record> batch{std::move(s)};
  langfuse_options o;
  o.content = content;
  add_langfuse_attributes(batch, o);
  return batch[0];
}

const std::string& text(const span_record& s, std::string_view key) {
  const std::string* v = string_attribute(s, key);
  INFO(key);
  REQUIRE(v);
  return *v;
}

json json_text(const span_record& s, std::string_view key) { return json::parse(text(s, key)); }

std::size_t count_key(const span_record& s, std::string_view key) {
  std::size_t n = 0;
  for (auto& a : s.attributes) n += a.key == key;
  return n;
}

const std::vector<std::string> generation_keys = {
    "langfuse.observation.model.name", "langfuse.observation.model.parameters",
    "langfuse.observation.usage_details", "langfuse.observation.cost_details",
    "langfuse.observation.completion_start_time"};

const std::vector<std::string> content_keys = {
    "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"};

// The one observation event of a non-root span.
json legacy_event(const span_record& s, bool content) {
  langfuse_options o;
  o.content = content;
  const auto bodies = encode_legacy_batches({s}, o);
  REQUIRE(bodies.size() == 1);
  const json body = json::parse(bodies[0]);
  REQUIRE(body.at("batch").size() == 1);
  return body.at("batch")[0];
}

}  // namespace

// ---------------------------------------------------------------- types

TEST_CASE("langfuse genai: observation types by gen_ai.operation.name", "[langfuse][genai]") {
  auto with_op = [](std::string op) {
    span_record s;
    s.set("gen_ai.operation.name", std::move(op));
    return langfuse_observation_type(s);
  };
  CHECK(with_op("chat") == "generation");
  CHECK(with_op("text_completion") == "generation");
  CHECK(with_op("generate_content") == "generation");
  CHECK(with_op("embeddings") == "embedding");
  CHECK(with_op("invoke_agent") == "agent");
  CHECK(with_op("create_agent") == "agent");
  CHECK(with_op("execute_tool") == "tool");
  CHECK(with_op("retrieval") == "span");
  CHECK(with_op("") == "span");
  CHECK(langfuse_observation_type(span_record{}) == "span");

  CHECK(is_langfuse_model_call("generation"));
  CHECK(is_langfuse_model_call("embedding"));
  CHECK_FALSE(is_langfuse_model_call("agent"));
  CHECK_FALSE(is_langfuse_model_call("tool"));
  CHECK_FALSE(is_langfuse_model_call("span"));

  SECTION("the span's own langfuse.observation.type wins") {
    span_record s = chat_span();
    s.set("langfuse.observation.type", std::string("guardrail"));
    CHECK(langfuse_observation_type(s) == "guardrail");
  }
  SECTION("node spans stay spans, whatever their component type") {
    CHECK(langfuse_observation_type(node_span("answer", "llm.chat")) == "span");
    CHECK(langfuse_observation_type(node_span("planner", "agent")) == "span");
    span_record model_but_no_operation = node_span("answer", "llm.chat");
    model_but_no_operation.set("gen_ai.request.model", std::string("gpt-4o"));
    CHECK(langfuse_observation_type(model_but_no_operation) == "span");
  }
}

// ---------------------------------------------------------------- OTLP: generations

TEST_CASE("langfuse genai: a chat span becomes a generation with every field",
          "[langfuse][genai]") {
  const span_record s = mapped(chat_span(), false);

  CHECK(text(s, "langfuse.observation.type") == "generation");
  CHECK(text(s, "langfuse.observation.model.name") == "gpt-4o-2024-08-06");  // the response model
  CHECK(json_text(s, "langfuse.observation.model.parameters") ==
        json{{"temperature", 0.2},
             {"top_p", 0.9},
             {"max_tokens", 256},
             {"seed", 42},
             {"stop", R"(["\n\n","END"])"}});
  CHECK(json_text(s, "langfuse.observation.usage_details") == json{{"input", 60},
                                                                   {"input_cache_read", 40},
                                                                   {"output", 30},
                                                                   {"output_reasoning", 20},
                                                                   {"total", 150}});
  CHECK(json_text(s, "langfuse.observation.cost_details") ==
        json{{"input", 0.00025}, {"output", 0.0005}, {"total", 0.00075}});
  CHECK(text(s, "langfuse.observation.completion_start_time") ==
        "2023-11-14T22:13:20.373Z");  // + 250.5 ms

  // The ordinary mapping is still there.
  CHECK(text(s, "langfuse.trace.name") == "assistant");
  CHECK(text(s, "langfuse.session.id") == "sess-1");
  CHECK(text(s, "langfuse.user.id") == "user-1");
  CHECK_FALSE(s.find("langfuse.observation.level"));

  SECTION("the stop list parses back to the sequences") {
    const json params = json_text(s, "langfuse.observation.model.parameters");
    CHECK(json::parse(params.at("stop").get<std::string>()) == json{"\n\n", "END"});
  }
  SECTION("usage parts add up to the GenAI totals") {
    const json usage = json_text(s, "langfuse.observation.usage_details");
    CHECK(usage.at("input").get<int>() + usage.at("input_cache_read").get<int>() == 100);
    CHECK(usage.at("output").get<int>() + usage.at("output_reasoning").get<int>() == 50);
  }
  SECTION("without content the content attributes are gone, and no input or output is set") {
    CHECK_FALSE(s.find("langfuse.observation.input"));
    CHECK_FALSE(s.find("langfuse.observation.output"));
    for (const auto& key : content_keys) {
      INFO(key);
      CHECK_FALSE(s.find(key));
    }
    CHECK(text(s, "gen_ai.request.model") == "gpt-4o");  // the rest stays
  }
  SECTION("a failed call is an ERROR generation") {
    span_record failed = chat_span();
    failed.status = status_code::error;
    failed.status_message = "HTTP 429: rate limited";
    failed.set("error.type", std::string("429"));
    const span_record f = mapped(failed, false);
    CHECK(text(f, "langfuse.observation.type") == "generation");
    CHECK(text(f, "langfuse.observation.level") == "ERROR");
    CHECK(text(f, "langfuse.observation.status_message") == "HTTP 429: rate limited");
  }
}

TEST_CASE("langfuse genai: optional generation fields only when given", "[langfuse][genai]") {
  const span_record s = mapped(plain_chat_span(), false);
  CHECK(text(s, "langfuse.observation.type") == "generation");
  CHECK(text(s, "langfuse.observation.model.name") ==
        "gpt-4o-mini");  // no response model: the request's
  CHECK(json_text(s, "langfuse.observation.model.parameters") == json{{"temperature", 0.7}});
  CHECK(json_text(s, "langfuse.observation.usage_details") ==
        json{{"input", 12}, {"output", 34}, {"total", 46}});
  CHECK_FALSE(s.find("langfuse.observation.cost_details"));
  CHECK_FALSE(s.find("langfuse.observation.completion_start_time"));

  SECTION("no request parameters and no usage: no keys for them") {
    span_record bare = base_span("chat m", span_kind::client);
    bare.set("gen_ai.operation.name", std::string("chat"));
    bare.set("gen_ai.request.model", std::string("m"));
    const span_record b = mapped(bare, false);
    CHECK(text(b, "langfuse.observation.model.name") == "m");
    CHECK_FALSE(b.find("langfuse.observation.model.parameters"));
    CHECK_FALSE(b.find("langfuse.observation.usage_details"));
  }
  SECTION("only some costs") {
    span_record priced = plain_chat_span();
    priced.set("weft.llm.cost.total", 0.5);
    CHECK(json_text(mapped(priced, false), "langfuse.observation.cost_details") ==
          json{{"total", 0.5}});
  }
  SECTION("values Langfuse would refuse are left out") {
    span_record odd = base_span("chat m", span_kind::client);
    odd.set("gen_ai.operation.name", std::string("chat"));
    odd.set("gen_ai.usage.input_tokens", std::int64_t{-5});
    odd.set("gen_ai.usage.output_tokens", std::int64_t{7});
    odd.set("gen_ai.request.temperature", std::numeric_limits<double>::quiet_NaN());
    odd.set("weft.llm.cost.input", -1.0);
    odd.set("weft.llm.cost.output", std::numeric_limits<double>::infinity());
    odd.set("weft.llm.time_to_first_chunk_ms", -3.0);
    const span_record o = mapped(odd, false);
    CHECK(json_text(o, "langfuse.observation.usage_details") == json{{"output", 7}, {"total", 7}});
    CHECK_FALSE(o.find("langfuse.observation.model.parameters"));
    CHECK_FALSE(o.find("langfuse.observation.cost_details"));
    CHECK_FALSE(o.find("langfuse.observation.completion_start_time"));
  }
  SECTION("more cached tokens than input tokens: input is 0, not negative") {
    span_record odd = plain_chat_span();
    odd.set("gen_ai.usage.cache_read.input_tokens", std::int64_t{20});
    CHECK(json_text(mapped(odd, false), "langfuse.observation.usage_details") ==
          json{{"input", 0}, {"input_cache_read", 20}, {"output", 34}, {"total", 54}});
  }
  SECTION("a time to first chunk recorded as an integer") {
    span_record streamed = plain_chat_span();
    streamed.set("weft.llm.time_to_first_chunk_ms", std::int64_t{1500});
    CHECK(text(mapped(streamed, false), "langfuse.observation.completion_start_time") ==
          "2023-11-14T22:13:21.623Z");
  }
  SECTION("an embedding call is a model call too") {
    span_record e = base_span("embeddings text-embedding-3-small", span_kind::client);
    e.set("gen_ai.operation.name", std::string("embeddings"));
    e.set("gen_ai.request.model", std::string("text-embedding-3-small"));
    e.set("gen_ai.usage.input_tokens", std::int64_t{8});
    const span_record m = mapped(e, false);
    CHECK(text(m, "langfuse.observation.type") == "embedding");
    CHECK(text(m, "langfuse.observation.model.name") == "text-embedding-3-small");
    CHECK(json_text(m, "langfuse.observation.usage_details") == json{{"input", 8}, {"total", 8}});
  }
}

TEST_CASE("langfuse genai: chat content only with content on", "[langfuse][genai]") {
  const span_record s = mapped(chat_span(), true);
  CHECK(json_text(s, "langfuse.observation.input") ==
        json::parse(R"([{"role":"system","parts":[{"type":"text","content":"You are terse."}]},
                        {"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}])"));
  CHECK(json_text(s, "langfuse.observation.output") == json::parse(output_messages));
  CHECK_FALSE(s.find("langfuse.trace.input"));                // not the run's root
  CHECK(text(s, "gen_ai.input.messages") == input_messages);  // the attributes themselves stay

  SECTION("no system instructions: the messages as they are") {
    span_record c = chat_span();
    std::erase_if(c.attributes,
                  [](const attribute& a) { return a.key == "gen_ai.system_instructions"; });
    CHECK(text(mapped(c, true), "langfuse.observation.input") == input_messages);
  }
  SECTION("system instructions without messages") {
    span_record c = chat_span();
    std::erase_if(c.attributes,
                  [](const attribute& a) { return a.key == "gen_ai.input.messages"; });
    CHECK(
        json_text(mapped(c, true), "langfuse.observation.input") ==
        json::parse(R"([{"role":"system","parts":[{"type":"text","content":"You are terse."}]}])"));
  }
  SECTION("an empty message list") {
    span_record c = chat_span();
    for (auto& a : c.attributes)
      if (a.key == "gen_ai.input.messages") a.value = std::string(" [ ] ");
    CHECK(json_text(mapped(c, true), "langfuse.observation.input").size() == 1);
  }
  SECTION("instructions that are not a parts array become one text part") {
    span_record c = chat_span();
    for (auto& a : c.attributes)
      if (a.key == "gen_ai.system_instructions") a.value = std::string("Be \"brief\".");
    const json input = json_text(mapped(c, true), "langfuse.observation.input");
    CHECK(input.at(0) ==
          json::parse(R"({"role":"system","parts":[{"type":"text","content":"Be \"brief\"."}]})"));
    CHECK(input.size() == 2);
  }
  SECTION("messages that are not a JSON array go as they are") {
    span_record c = chat_span();
    for (auto& a : c.attributes)
      if (a.key == "gen_ai.input.messages") a.value = std::string("not json [");
    CHECK(text(mapped(c, true), "langfuse.observation.input") == "not json [");
  }
  SECTION("applying twice adds nothing") {
    std::vector<span_record> batch{chat_span()};
    langfuse_options o;
    o.content = true;
    add_langfuse_attributes(batch, o);
    add_langfuse_attributes(batch, o);
    for (const auto& key : generation_keys) CHECK(count_key(batch[0], key) == 1);
    CHECK(count_key(batch[0], "langfuse.observation.input") == 1);
    CHECK(count_key(batch[0], "langfuse.observation.output") == 1);
  }
}

// ---------------------------------------------------------------- OTLP: nodes, agents, tools

TEST_CASE("langfuse genai: node spans are spans without model keys", "[langfuse][genai]") {
  for (const char* type : {"llm.chat", "agent"}) {
    INFO(type);
    const span_record s = mapped(node_span("answer", type), true);
    CHECK(text(s, "langfuse.observation.type") == "span");
    for (const auto& key : generation_keys) {
      INFO(key);
      CHECK_FALSE(s.find(key));
    }
    // Their content is still weft's own inputs and outputs.
    CHECK(text(s, "langfuse.observation.input") == R"({"question":"Weather in Paris?"})");
    CHECK(text(s, "langfuse.observation.output") == R"({"answer":"Sunny."})");
  }
}

TEST_CASE("langfuse genai: agents and tools", "[langfuse][genai]") {
  SECTION("agent") {
    const span_record s = mapped(agent_span(), true);
    CHECK(text(s, "langfuse.observation.type") == "agent");
    // Its usage sums its LLM calls, which are generations of their own.
    CHECK(text(s, "langfuse.observation.usage_details") == "{}");
    CHECK_FALSE(s.find("langfuse.observation.model.name"));
    CHECK_FALSE(s.find("langfuse.observation.model.parameters"));
    CHECK_FALSE(s.find("langfuse.observation.cost_details"));
    CHECK(std::get<std::int64_t>(*s.find("gen_ai.usage.input_tokens")) ==
          300);  // still there as an attribute
  }
  SECTION("tool, with content") {
    const span_record s = mapped(tool_span(), true);
    CHECK(text(s, "langfuse.observation.type") == "tool");
    CHECK(json_text(s, "langfuse.observation.input") == json{{"city", "Paris"}});
    CHECK(json_text(s, "langfuse.observation.output") == json{{"sky", "sunny"}});
    for (const auto& key : generation_keys) CHECK_FALSE(s.find(key));
  }
  SECTION("tool, without content") {
    const span_record s = mapped(tool_span(), false);
    CHECK(text(s, "langfuse.observation.type") == "tool");
    CHECK_FALSE(s.find("langfuse.observation.input"));
    CHECK_FALSE(s.find("langfuse.observation.output"));
    CHECK_FALSE(s.find("gen_ai.tool.call.arguments"));
    CHECK_FALSE(s.find("gen_ai.tool.call.result"));
    CHECK(text(s, "gen_ai.tool.name") == "get_weather");
  }
}

// ---------------------------------------------------------------- legacy

TEST_CASE("langfuse genai legacy: a chat span is a generation-create with each field",
          "[langfuse][genai]") {
  const json event = legacy_event(chat_span(), false);
  const json& b = event.at("body");
  CHECK(event.at("type") == "generation-create");
  CHECK(b.at("name") == "chat gpt-4o");
  CHECK(b.at("model") == "gpt-4o-2024-08-06");
  CHECK(b.at("modelParameters") == json{{"temperature", 0.2},
                                        {"top_p", 0.9},
                                        {"max_tokens", 256},
                                        {"seed", 42},
                                        {"stop", R"(["\n\n","END"])"}});
  CHECK(b.at("usageDetails") == json{{"input", 60},
                                     {"input_cache_read", 40},
                                     {"output", 30},
                                     {"output_reasoning", 20},
                                     {"total", 150}});
  CHECK(b.at("costDetails") == json{{"input", 0.00025}, {"output", 0.0005}, {"total", 0.00075}});
  CHECK(b.at("completionStartTime") == "2023-11-14T22:13:20.373956Z");
  CHECK(b.at("startTime") == "2023-11-14T22:13:20.123456Z");
  CHECK_FALSE(b.contains("input"));
  CHECK_FALSE(b.contains("output"));
  const json& meta = b.at("metadata");
  CHECK(meta.at("gen_ai.request.model") == "gpt-4o");
  CHECK(meta.at("gen_ai.response.finish_reasons") == json{"stop"});
  for (const auto& key : content_keys) {
    INFO(key);
    CHECK_FALSE(meta.contains(key));  // user content never rides in the metadata
  }

  SECTION("with content: input with the system message, output") {
    const json with = legacy_event(chat_span(), true).at("body");
    CHECK(with.at("input") ==
          json::parse(R"([{"role":"system","parts":[{"type":"text","content":"You are terse."}]},
                          {"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}])"));
    CHECK(with.at("output") == json::parse(output_messages));
    for (const auto& key : content_keys) CHECK_FALSE(with.at("metadata").contains(key));
  }
  SECTION("without the optional parts, no fields for them") {
    const json plain = legacy_event(plain_chat_span(), false).at("body");
    CHECK(plain.at("model") == "gpt-4o-mini");
    CHECK(plain.at("modelParameters") == json{{"temperature", 0.7}});
    CHECK(plain.at("usageDetails") == json{{"input", 12}, {"output", 34}, {"total", 46}});
    CHECK_FALSE(plain.contains("costDetails"));
    CHECK_FALSE(plain.contains("completionStartTime"));
  }
  SECTION("mapped first, as the sink does: the same fields") {
    const json m = legacy_event(mapped(chat_span(), true), true).at("body");
    CHECK(m.at("model") == b.at("model"));
    CHECK(m.at("modelParameters") == b.at("modelParameters"));
    CHECK(m.at("usageDetails") == b.at("usageDetails"));
    CHECK(m.at("costDetails") == b.at("costDetails"));
    CHECK(m.at("completionStartTime") == "2023-11-14T22:13:20.373Z");
    CHECK(m.at("input").at(0).at("role") == "system");
  }
  SECTION("a component's own langfuse.* values win, as on the OTLP path") {
    span_record own = chat_span();
    own.set("langfuse.observation.model.name", std::string("my-deployment"));
    own.set("langfuse.observation.usage_details", std::string(R"({"input":1,"output":2})"));
    own.set("langfuse.observation.cost_details", std::string("not an object"));
    const json o = legacy_event(own, false).at("body");
    CHECK(o.at("model") == "my-deployment");
    CHECK(o.at("usageDetails") == json{{"input", 1}, {"output", 2}});
    CHECK(o.at("costDetails") == b.at("costDetails"));  // not JSON: weft's own
  }
  SECTION("model parameters too big for the field limit are left out, and the event marked") {
    span_record big = plain_chat_span();
    big.set("gen_ai.request.note", std::string(5000, 'x'));
    const auto bodies = encode_legacy_batches({big}, {}, 3'500'000, 1000);
    const json o = json::parse(bodies.at(0)).at("batch").at(0).at("body");
    CHECK_FALSE(o.contains("modelParameters"));
    CHECK(o.at("usageDetails") == json{{"input", 12}, {"output", 34}, {"total", 46}});
    CHECK(o.at("metadata").at("weft.truncated") == true);
  }
  SECTION("an embedding is a generation-create") {
    span_record e = base_span("embeddings m", span_kind::client);
    e.set("gen_ai.operation.name", std::string("embeddings"));
    e.set("gen_ai.request.model", std::string("m"));
    CHECK(legacy_event(e, false).at("type") == "generation-create");
  }
}

TEST_CASE("langfuse genai legacy: node spans, agents and tools are span-create",
          "[langfuse][genai]") {
  SECTION("node span of type llm.chat") {
    const json event = legacy_event(node_span("answer", "llm.chat"), false);
    CHECK(event.at("type") == "span-create");
    for (const char* key :
         {"model", "modelParameters", "usageDetails", "costDetails", "completionStartTime"})
      CHECK_FALSE(event.at("body").contains(key));
  }
  SECTION("agent") {
    const json event = legacy_event(agent_span(), false);
    CHECK(event.at("type") == "span-create");
    CHECK_FALSE(event.at("body").contains("usageDetails"));
    CHECK(event.at("body").at("metadata").at("gen_ai.operation.name") == "invoke_agent");
    CHECK(event.at("body").at("metadata").at("gen_ai.agent.name") == "planner");
  }
  SECTION("tool, with and without content") {
    const json with = legacy_event(tool_span(), true);
    CHECK(with.at("type") == "span-create");
    CHECK(with.at("body").at("input") == json{{"city", "Paris"}});
    CHECK(with.at("body").at("output") == json{{"sky", "sunny"}});
    CHECK(with.at("body").at("metadata").at("gen_ai.tool.name") == "get_weather");
    const json without = legacy_event(tool_span(), false).at("body");
    CHECK_FALSE(without.contains("input"));
    CHECK_FALSE(without.contains("output"));
    CHECK_FALSE(without.at("metadata").contains("gen_ai.tool.call.arguments"));
    CHECK_FALSE(without.at("metadata").contains("gen_ai.tool.call.result"));
  }
}
