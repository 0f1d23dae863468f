// The `agent` node type against a Chat Completions server on loopback: tool
// schemas from the tool flows' inputs, parallel tool calls as child runs,
// their answers going back as tool messages, bad arguments and unknown
// tools answered (not crashed on), max_steps, the span tree
// (invoke_agent -> chat / execute_tool -> tool run), and 1,000 concurrent
// agents audited for mixed traces.
#include <catch2/catch.hpp>

#include <map>
#include <random>

#include "support/chat_server.hpp"
#include "support/engine_fixture.hpp"
#include "support/flow_dir.hpp"
#include "support/lambda_component.hpp"
#include "tracing/audit.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;
using tracing::span_record;

namespace {

// Tool flows: `weather` (city, optional units) and `add` (two numbers),
// both waiting a little, so parallel calls overlap.
void write_tools(const flow_dir& d, int wait_ms = 150) {
  d.write("weather.yaml",
          "flow: weather\ndescription: Current weather for a city\n"
          "inputs: {city: {type: string}, units: {type: string, default: C}}\nnodes:\n"
          "  wait: {type: sleep, params: {ms: " +
              std::to_string(wait_ms) +
              "}, inputs: {value: $inputs.city}}\n"
              "  say: {type: template, params: {template: '{{c}}: 21 {{u}}'}, inputs: {c: "
              "wait.value, u: $inputs.units}}\n"
              "outputs: {report: say.text}\n");
  d.write("add.yaml",
          "flow: add\ninputs: {a: {type: number}, b: {type: number}}\nnodes:\n"
          "  wait: {type: sleep, params: {ms: " +
              std::to_string(wait_ms) +
              "}, inputs: {value: $inputs.a}}\n"
              "  sum: {type: lua, params: {outputs: [sum], script: 'return {sum = inputs.a + "
              "inputs.b}'}, "
              "inputs: {a: wait.value, b: $inputs.b}}\n"
              "outputs: {sum: sum.sum}\n");
}

std::string agent_flow(const chat_server& srv, const std::string& extra = "") {
  return "flow: assistant\ninputs: {q: {type: string}}\nnodes:\n  helper:\n    type: agent\n"
         "    params:\n      model: m1\n      base_url: '" +
         srv.base_url() +
         "'\n"
         "      tools:\n        - {name: weather, flow: ./weather.yaml}\n"
         "        - {name: add, description: Adds two numbers, flow: ./add.yaml}\n" +
         extra +
         "    inputs: {prompt: $inputs.q}\n"
         "outputs: {text: helper.text, messages: helper.messages, steps: helper.steps, usage: "
         "helper.usage}\n";
}

// The last message of a request's transcript.
value last_message(const chat_request& r) {
  const auto& m = r.json["messages"];
  return m.empty() ? value() : m.back();
}

std::int64_t int_attr(const span_record& s, std::string_view key) {
  auto v = s.find(key);
  return v && std::holds_alternative<std::int64_t>(*v) ? std::get<std::int64_t>(*v) : -1;
}

}  // namespace

TEST_CASE("agent: parallel tool calls run as child runs and answer as tool messages",
          "[llm][agent]") {
  flow_dir d;
  write_tools(d);
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = eng.load_file(d.write("assistant.yaml", agent_flow(srv)));
  REQUIRE(flow.flow);
  srv.on_request([](const chat_request& r) {
    if (last_message(r)["role"] == "user")
      return chat_reply::tools(
          {{"call_w", "weather", R"({"city":"Oslo"})"}, {"call_a", "add", R"({"a":2,"b":3.5})"}});
    return chat_reply::text("Oslo is 21 C and the sum is 5.5.");
  });
  auto t0 = std::chrono::steady_clock::now();
  auto r = eng.run(flow.flow, {{"q", "Weather in Oslo, and 2+3.5?"}}).get();
  auto took = std::chrono::steady_clock::now() - t0;
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("text") == "Oslo is 21 C and the sum is 5.5.");
  CHECK(r.outputs.at("steps") == 2);
  CHECK(r.outputs.at("usage") ==
        value{{"input_tokens", 20}, {"output_tokens", 10}, {"total_tokens", 30}});
  // The two 150 ms tools ran side by side.
  CHECK(took < 290ms);

  REQUIRE(srv.request_count() == 2);
  // The tools as the model sees them: schemas from the flows' inputs.
  auto tools = srv.request(0).json["tools"];
  REQUIRE(tools.size() == 2);
  CHECK(tools[0]["function"]["name"] == "weather");
  CHECK(tools[0]["function"]["description"] == "Current weather for a city");
  CHECK(tools[0]["function"]["parameters"] ==
        value::parse(R"({"type":"object","additionalProperties":false,"required":["city"],
                          "properties":{"city":{"type":"string"},"units":{"type":"string","default":"C"}}})"));
  CHECK(tools[1]["function"]["description"] == "Adds two numbers");
  CHECK(tools[1]["function"]["parameters"]["required"] == value::array({"a", "b"}));
  CHECK(tools[1]["function"]["parameters"]["properties"]["a"]["type"] == "number");

  auto msgs = srv.request(1).json["messages"];
  REQUIRE(msgs.size() == 4);
  CHECK(msgs[1]["role"] == "assistant");
  CHECK(msgs[1]["tool_calls"].size() == 2);
  CHECK(msgs[2] == value{{"role", "tool"},
                         {"tool_call_id", "call_w"},
                         {"content", R"({"report":"Oslo: 21 C"})"}});
  CHECK(msgs[3] ==
        value{{"role", "tool"}, {"tool_call_id", "call_a"}, {"content", R"({"sum":5.5})"}});
  auto transcript = r.outputs.at("messages");
  REQUIRE(transcript.size() == 5);
  CHECK(transcript[4]["content"] == "Oslo is 21 C and the sum is 5.5.");
}

TEST_CASE("agent: the span tree, invoke_agent -> chat and execute_tool -> tool run",
          "[llm][agent][genai]") {
  flow_dir d;
  write_tools(d, 5);
  chat_server srv;
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.tracing.content = true;
  engine eng(std::move(opts));
  auto flow = eng.load_file(d.write("assistant.yaml", agent_flow(srv, "      name: helper-bot\n")));
  REQUIRE(flow.flow);
  srv.on_request([](const chat_request& r) {
    if (last_message(r)["role"] == "user")
      return chat_reply::tools({{"call_w", "weather", R"({"city":"Rome"})"}});
    return chat_reply::text("Warm.");
  });
  run_options o;
  o.session_id = "s-agent";
  o.user_id = "u-agent";
  auto r = eng.run(flow.flow, {{"q", "Weather in Rome?"}}, o).get();
  INFO(r.error);
  REQUIRE(r.ok);
  // run, node, invoke_agent, 2 chat, 2 HTTP, execute_tool, tool run, wait, say
  auto spans = wait_spans(*st, r.trace_id, 11);
  REQUIRE(spans.size() == 11);
  auto node = find_span(spans, "helper");
  auto agent = find_span(spans, "invoke_agent helper-bot");
  auto tool = find_span(spans, "execute_tool weather");
  auto tool_run = find_span(spans, "weather");
  REQUIRE(node);
  REQUIRE(agent);
  REQUIRE(tool);
  REQUIRE(tool_run);
  CHECK(agent->parent == node->id);
  CHECK(agent->kind == tracing::span_kind::internal);
  CHECK(str_attr(*agent, "gen_ai.operation.name") == "invoke_agent");
  CHECK(str_attr(*agent, "gen_ai.agent.name") == "helper-bot");
  CHECK(int_attr(*agent, "gen_ai.usage.input_tokens") == 20);
  CHECK(int_attr(*agent, "weft.agent.steps") == 2);
  int chats = 0;
  for (auto& s : spans)
    if (s.name == "chat m1") {
      ++chats;
      CHECK(s.parent == agent->id);
    }
  CHECK(chats == 2);
  CHECK(tool->parent == agent->id);
  CHECK(str_attr(*tool, "gen_ai.operation.name") == "execute_tool");
  CHECK(str_attr(*tool, "gen_ai.tool.name") == "weather");
  CHECK(str_attr(*tool, "gen_ai.tool.call.id") == "call_w");
  CHECK(str_attr(*tool, "gen_ai.tool.call.arguments") == R"({"city":"Rome"})");
  CHECK(str_attr(*tool, "gen_ai.tool.call.result") == R"({"report":"Rome: 21 C"})");
  CHECK(tool_run->parent == tool->id);
  CHECK(str_attr(*tool_run, "weft.parent_run.id") == r.run_id);
  for (auto& s : spans) {
    if (str_attr(s, "weft.run.id") != str_attr(*tool_run, "weft.run.id") || &s == tool_run)
      continue;
    CHECK(s.parent == tool_run->id);  // the tool's nodes
  }
  tracing::audit_expectation e;
  e.trace = *tracing::trace_id::from_hex(r.trace_id);
  e.run_id = r.run_id;
  e.session_id = "s-agent";
  e.user_id = "u-agent";
  auto report = tracing::audit_traces(spans, {e});
  std::string problems;
  for (auto& p : report.problems) problems += p + "\n";
  INFO(problems);
  CHECK(report.ok());
}

TEST_CASE("agent: bad arguments and unknown tools go back to the model as errors", "[llm][agent]") {
  flow_dir d;
  write_tools(d, 1);
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = eng.load_file(d.write("assistant.yaml", agent_flow(srv)));
  REQUIRE(flow.flow);
  srv.on_request([](const chat_request& r) {
    if (last_message(r)["role"] == "user")
      return chat_reply::tools({{"c1", "weather", "{not json"},
                                {"c2", "weather", R"({"city": 12})"},
                                {"c3", "add", R"({"a": 1})"},
                                {"c4", "search", R"({"q": "x"})"},
                                {"c5", "weather", R"({"city": "Oslo", "extra": 1})"}});
    return chat_reply::text("I could not use the tools.");
  });
  auto r = eng.run(flow.flow, {{"q", "go"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  auto msgs = srv.request(1).json["messages"];
  REQUIRE(msgs.size() == 7);
  auto content = [&](int i) {
    return msgs[static_cast<std::size_t>(i)]["content"].get<std::string>();
  };
  CHECK_THAT(content(2), Catch::StartsWith("error: ") && Catch::Contains("must be a JSON object"));
  CHECK_THAT(content(3), Catch::Contains("do not fit its schema") && Catch::Contains("city"));
  CHECK_THAT(content(4), Catch::Contains("do not fit its schema") && Catch::Contains("b"));
  CHECK_THAT(content(5),
             Catch::Contains("there is no tool 'search'") && Catch::Contains("weather, add"));
  CHECK_THAT(content(6), Catch::Contains("do not fit its schema"));
  for (int i = 2; i < 7; ++i)
    CHECK(msgs[static_cast<std::size_t>(i)]["tool_call_id"] == "c" + std::to_string(i - 1));
  auto spans = wait_spans(*st, r.trace_id, 12);
  auto agent = find_span(spans, "invoke_agent helper");
  REQUIRE(agent);
  CHECK(int_attr(*agent, "weft.agent.tool_errors") == 5);
  int errored = 0;
  for (auto& s : spans)
    if (s.name.starts_with("execute_tool") && s.status == tracing::status_code::error) ++errored;
  CHECK(errored == 5);
}

TEST_CASE("agent: a model that never stops calling tools fails at max_steps", "[llm][agent]") {
  flow_dir d;
  write_tools(d, 1);
  chat_server srv;
  engine eng(engine_options{});
  auto flow = eng.load_file(d.write("assistant.yaml", agent_flow(srv, "      max_steps: 3\n")));
  REQUIRE(flow.flow);
  srv.on_request([](const chat_request&) {
    return chat_reply::tools({{"c", "add", R"({"a":1,"b":1})"}});
  });
  auto r = eng.run(flow.flow, {{"q", "loop"}}).get();
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("no final answer after 3 model call(s) (max_steps)"));
  CHECK(srv.request_count() == 3);
}

TEST_CASE("agent: bad tool params are load errors", "[llm][agent][validation]") {
  flow_dir d;
  write_tools(d, 1);
  engine eng(engine_options{});
  auto load = [&](const std::string& tools) {
    auto r = eng.load_file(
        d.write("bad.yaml",
                "flow: bad\ninputs: {q: {type: string}}\nnodes:\n  a:\n    type: agent\n"
                "    params: {model: m, base_url: 'http://127.0.0.1:1/v1', tools: " +
                    tools + "}\n    inputs: {prompt: $inputs.q}\n"));
    std::string all;
    for (auto& e : r.errors) all += e.to_string() + "\n";
    return all;
  };
  CHECK_THAT(load("[]"), Catch::Contains("must list the agent's tools"));
  CHECK_THAT(load("[{name: x}]"), Catch::Contains("want {name, description, flow}"));
  CHECK_THAT(load("[{name: x, flow: ./missing.yaml}]"), Catch::Contains("missing.yaml"));
  CHECK_THAT(load("[{name: x, flow: ./add.yaml}, {name: x, flow: ./add.yaml}]"),
             Catch::Contains("used twice"));
  CHECK(load("[{name: x, flow: ./add.yaml}]").empty());
}

TEST_CASE("agent: 1,000 concurrent agents, each calling 2 sleeping tools, audited",
          "[llm][agent][concurrency]") {
  flow_dir d;
  chat_server srv;
  srv.set_recording(false);
  auto st = std::make_shared<span_store>();
  auto opts = memory_options(st);
  opts.settings.exporter.max_queue_spans = 1 << 20;
  engine eng(std::move(opts));
  add_type(eng, "jitter", [](node_context& ctx, value_map in) {
    thread_local std::mt19937 rng(std::random_device{}());
    auto c = ctx.shared_from_this();
    ctx.after(std::chrono::milliseconds(rng() % 20), [c, v = std::move(in["value"])]() mutable {
      c->complete({{"value", std::move(v)}});
    });
  });
  d.write("echo.yaml",
          "flow: echo\ninputs: {text: {type: string}}\nnodes:\n"
          "  wait: {type: jitter, inputs: {value: $inputs.text}}\noutputs: {said: wait.value}\n");
  auto flow = eng.load_file(
      d.write("a.yaml",
              "flow: a\ninputs: {q: {type: string}}\nnodes:\n  helper:\n    type: agent\n"
              "    params: {model: m1, base_url: '" +
                  srv.base_url() +
                  "', "
                  "tools: [{name: first, flow: ./echo.yaml}, {name: second, flow: ./echo.yaml}]}\n"
                  "    inputs: {prompt: $inputs.q}\noutputs: {text: helper.text}\n"));
  REQUIRE(flow.flow);
  // The model calls both tools with the question, then answers with what
  // they said: each run's answer proves its tools saw its own question.
  srv.on_request([](const chat_request& r) {
    const auto& msgs = r.json["messages"];
    if (msgs.back()["role"] == "user") {
      auto q = msgs.back()["content"].get<std::string>();
      value args = {{"text", q}};
      return chat_reply::tools({{"c1", "first", args.dump()}, {"c2", "second", args.dump()}});
    }
    std::string said;
    for (auto& m : msgs)
      if (m["role"] == "tool")
        said += value::parse(m["content"].get<std::string>())["said"].get<std::string>() + ";";
    return chat_reply::text(said);
  });
  constexpr int runs = 1000;
  std::vector<std::future<run_result>> futures;
  for (int i = 0; i < runs; ++i) {
    run_options o;
    o.session_id = "s" + std::to_string(i);
    o.user_id = "u" + std::to_string(i % 17);
    futures.push_back(eng.run(flow.flow, {{"q", "q" + std::to_string(i)}}, o));
  }
  std::vector<tracing::audit_expectation> expect;
  for (int i = 0; i < runs; ++i) {
    auto r = futures[static_cast<std::size_t>(i)].get();
    INFO(r.error);
    REQUIRE(r.ok);
    const auto q = "q" + std::to_string(i);
    REQUIRE(r.outputs.at("text") == q + ";" + q + ";");
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(r.trace_id);
    e.run_id = r.run_id;
    e.session_id = "s" + std::to_string(i);
    e.user_id = "u" + std::to_string(i % 17);
    // run, node, invoke_agent, 2 x (chat + HTTP), 2 x (execute_tool + tool run + wait)
    e.expected_spans = 13;
    expect.push_back(e);
  }
  eng.shutdown();
  CHECK(eng.stats().total_dropped() == 0);
  auto spans = st->snapshot();
  auto report = tracing::audit_traces(spans, expect);
  std::string problems;
  for (auto& p : report.problems) problems += p + "\n";
  INFO(problems);
  CHECK(report.ok());
  CHECK(report.traces == runs);
  // Each execute_tool under its own agent's invoke_agent; each tool run
  // under its own execute_tool.
  std::map<tracing::span_id, const span_record*> by_id;
  for (auto& s : spans) by_id[s.id] = &s;
  std::size_t tools = 0, tool_runs = 0;
  for (auto& s : spans) {
    auto p = by_id.find(s.parent);
    if (s.name.starts_with("execute_tool ")) {
      ++tools;
      REQUIRE(p != by_id.end());
      CHECK(p->second->name == "invoke_agent helper");
      CHECK(str_attr(*p->second, "weft.run.id") == str_attr(s, "weft.run.id"));
    } else if (s.name == "echo") {
      ++tool_runs;
      REQUIRE(p != by_id.end());
      CHECK(p->second->name.starts_with("execute_tool "));
      CHECK(str_attr(*p->second, "weft.run.id") == str_attr(s, "weft.parent_run.id"));
      CHECK(str_attr(*p->second, "gen_ai.tool.call.id") == str_attr(s, "gen_ai.tool.call.id"));
    }
  }
  CHECK(tools == runs * 2);
  CHECK(tool_runs == runs * 2);
}
