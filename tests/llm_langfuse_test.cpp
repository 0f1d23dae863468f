// A real `llm.chat` call, streamed, priced and with content tracing, exported
// by the Langfuse sink to a loopback collector, over both of its paths: the
// chat span arrives as a generation (model, parameters, usage, cost, the
// completion start time, input and output), the node span as a plain span.
#include <filesystem>

#include "support/chat_server.hpp"
#include "support/engine_fixture.hpp"
#include "support/test_collector.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;
using namespace weft::test;
namespace fs = std::filesystem;

namespace {

engine_options langfuse_to(const test_collector& c, bool legacy) {
  engine_options o;
  o.settings.tracing.batch_delay_ms = 20;
  o.settings.tracing.content = true;
  config::langfuse_settings l;
  l.host = c.base_url();
  l.public_key = "pk-lf-1";
  l.secret_key = "sk-lf-2-secret-value";
  l.legacy = legacy;
  o.settings.exporter.langfuse = l;
  auto spool = fs::temp_directory_path() / ("weft-llm-langfuse-" + std::to_string(getpid()));
  fs::remove_all(spool);
  o.settings.exporter.spool_dir = spool.string();
  return o;
}

std::string flow_for(const chat_server& srv) {
  return "flow: summarise\ninputs: {text: {type: string}}\nnodes:\n  sum:\n    type: llm.chat\n"
         "    params: {model: m1, base_url: '" +
         srv.base_url() +
         "', stream: true, temperature: 0.1, "
         "max_tokens: 50, price_per_mtok: {input: 1.0, output: 2.0}}\n"
         "    inputs: {prompt: $inputs.text, system: $inputs.text}\noutputs: {s: sum.text}\n";
}

chat_reply reply() {
  chat_reply r = chat_reply::text("A short summary.");
  r.model = "m1-0601";
  r.usage = {100, 20, {}, {}};
  r.interval = std::chrono::milliseconds(30);  // a first chunk later than the start
  return r;
}

}  // namespace

TEST_CASE("llm + langfuse OTLP: the chat span is a generation, the node span is not",
          "[llm][langfuse][exporter]") {
  test_collector c;
  chat_server srv;
  engine eng(langfuse_to(c, false));
  auto flow = must_load(eng, flow_for(srv));
  srv.push(reply());
  auto r = eng.run(flow, {{"text", "Long text."}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(eng.shutdown());
  std::vector<tracing::span_record> spans;
  for (auto& q : c.requests())
    for (auto& s : tracing::read_otlp_json_line(q.body, nullptr)) spans.push_back(std::move(s));
  auto chat = find_span(spans, "chat m1");
  auto node = find_span(spans, "sum");
  REQUIRE(chat);
  REQUIRE(node);
  CHECK(str_attr(*chat, "langfuse.observation.type") == "generation");
  CHECK(str_attr(*chat, "langfuse.observation.model.name") == "m1-0601");
  auto params = value::parse(str_attr(*chat, "langfuse.observation.model.parameters"));
  CHECK(params["temperature"] == 0.1);
  CHECK(params["max_tokens"] == 50);
  auto usage = value::parse(str_attr(*chat, "langfuse.observation.usage_details"));
  CHECK(usage["input"] == 100);
  CHECK(usage["output"] == 20);
  CHECK(usage["total"] == 120);
  auto cost = value::parse(str_attr(*chat, "langfuse.observation.cost_details"));
  CHECK(cost["input"].get<double>() == Approx(0.0001));
  CHECK(cost["output"].get<double>() == Approx(0.00004));
  CHECK(cost["total"].get<double>() == Approx(0.00014));
  auto start = str_attr(*chat, "langfuse.observation.completion_start_time");
  CHECK(start.size() == 24);  // 2026-12-02T05:40:27.123Z
  CHECK(start.back() == 'Z');
  CHECK_THAT(str_attr(*chat, "langfuse.observation.input"), Catch::Contains("Long text."));
  CHECK_THAT(str_attr(*chat, "langfuse.observation.output"), Catch::Contains("A short summary."));
  CHECK(str_attr(*node, "langfuse.observation.type") == "span");
  CHECK_FALSE(node->find("langfuse.observation.model.name"));
  CHECK_FALSE(node->find("langfuse.observation.usage_details"));
}

TEST_CASE("llm + langfuse legacy: the chat span is a generation-create event",
          "[llm][langfuse][exporter]") {
  test_collector c;
  chat_server srv;
  engine eng(langfuse_to(c, true));
  auto flow = must_load(eng, flow_for(srv));
  srv.push(reply());
  auto r = eng.run(flow, {{"text", "Long text."}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(eng.shutdown());
  value generation, node_event;
  for (auto& q : c.requests()) {
    auto batch = value::parse(q.body, nullptr, false);
    REQUIRE_FALSE(batch.is_discarded());
    for (auto& e : batch["batch"]) {
      if (e["type"] == "generation-create") generation = e;
      if (e["body"].value("name", "") == "sum") node_event = e;
    }
  }
  REQUIRE(generation.is_object());
  const auto& b = generation["body"];
  CHECK(b["name"] == "chat m1");
  CHECK(b["model"] == "m1-0601");
  CHECK(b["modelParameters"]["temperature"] == 0.1);
  CHECK(b["usageDetails"]["input"] == 100);
  CHECK(b["usageDetails"]["output"] == 20);
  CHECK(b["costDetails"]["total"].get<double>() == Approx(0.00014));
  CHECK(b["completionStartTime"].is_string());
  CHECK_THAT(b["input"].dump(), Catch::Contains("Long text."));
  CHECK_THAT(b["output"].dump(), Catch::Contains("A short summary."));
  REQUIRE(node_event.is_object());
  CHECK(node_event["type"] == "span-create");
}
