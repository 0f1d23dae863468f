// The flows of examples/llm/ run as their README says, here against the
// loopback Chat Completions server instead of a real model: the summariser
// streams, the extraction validates its JSON, the agent calls both of its
// tool flows.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "support/chat_server.hpp"
#include "support/engine_fixture.hpp"

using namespace weft;
using namespace weft::test;

namespace {

std::string example(const std::string& name) {
  return std::string(WEFT_SOURCE_DIR) + "/examples/llm/" + name;
}

struct env_base_url {
  explicit env_base_url(const std::string& url) { ::setenv("OPENAI_BASE_URL", url.c_str(), 1); }
  ~env_base_url() { ::unsetenv("OPENAI_BASE_URL"); }
};

}  // namespace

TEST_CASE("examples/llm: summarise, extract and agent run against a Chat Completions server",
          "[llm][examples]") {
  chat_server srv;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  env_base_url env(srv.base_url());

  auto sum = eng.load_file(example("summarise.yaml"));
  REQUIRE(sum.flow);
  srv.push(chat_reply::text("weft runs flows as actor trees."));
  std::string streamed;
  run_options o;
  o.on_event = [&](const run_event& e) {
    if (e.type == run_event::kind::chunk) streamed += e.data.get<std::string>();
  };
  auto r = eng.run(sum.flow, {{"text", "A long text about weft."}, {"model", "llama3.2"}}, o).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("summary") == "weft runs flows as actor trees.");
  CHECK(streamed == "weft runs flows as actor trees.");
  CHECK(srv.request(0).json["model"] == "llama3.2");
  CHECK_THAT(srv.request(0).json["messages"][1]["content"].get<std::string>(),
             Catch::Contains("at most 3 sentences"));

  auto ext = eng.load_file(example("extract.yaml"));
  REQUIRE(ext.flow);
  srv.push(chat_reply::text(R"({"name":"Ada Lovelace","born":1815,"city":"London"})"));
  r = eng.run(ext.flow, {{"text", "Ada Lovelace, born 1815 in London."}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("person") ==
        value{{"name", "Ada Lovelace"}, {"born", 1815}, {"city", "London"}});

  auto agent = eng.load_file(example("agent.yaml"));
  REQUIRE(agent.flow);
  srv.on_request([](const chat_request& q) {
    if (q.json["messages"].back()["role"] == "user")
      return chat_reply::tools({{"c1", "word_count", R"({"text":"the quick brown fox"})"},
                                {"c2", "multiply", R"({"a":17,"b":23})"}});
    std::string said;
    for (auto& m : q.json["messages"])
      if (m["role"] == "tool") said += m["content"].get<std::string>() + " ";
    return chat_reply::text(said);
  });
  r = eng.run(agent.flow, {{"question", "words and 17*23?"}}).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("answer") == R"({"words":4} {"product":391} )");
  CHECK(r.outputs.at("steps") == 2);
}
