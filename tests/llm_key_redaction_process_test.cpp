// The API key of an `llm.chat` node, taken from OPENAI_API_KEY, never leaves
// `weft serve` anywhere but in the Authorization header: not in the HTTP
// error answer, not in /metrics, not in the trace file, not in the spool of
// an OTLP backend that is down, not in what the process logs. A real
// `weft serve` process, content tracing on, against the loopback Chat
// Completions server, which echoes the key in its 401 as OpenAI does.
#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "support/chat_server.hpp"
#include "support/flow_dir.hpp"
#include "support/raw_http.hpp"
#include "support/serve_process.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* key = "sk-proj-Q7wE3rT9yU1iO5pA2sD8fG4h";
// Any 6 consecutive characters of the key are masked; this run of them
// shows whether any of it leaked.
constexpr const char* key_part = "Q7wE3rT9";

std::string slurp_tree(const std::filesystem::path& dir) {
  std::string all;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  return all;
}

}  // namespace

TEST_CASE("llm.chat: the API key is in no answer, metric, trace file, spool or log of weft serve",
          "[llm][redaction][process]") {
  chat_server llm;
  flow_dir d;
  d.write("flows/ask.yaml",
          "flow: ask\ninputs: {q: {type: string}}\nnodes:\n"
          "  chat: {type: llm.chat, params: {model: m1, retry: {max_retries: 0}}, inputs: {prompt: "
          "$inputs.q}}\n"
          "outputs: {text: chat.text}\n");
  const auto spool = d.path() / "spool";
  const auto trace_file = d.path() / "traces.jsonl";
  serve_process srv({"--flows", (d.path() / "flows").string(), "--trace-file", trace_file.string()},
                    {"OPENAI_API_KEY=" + std::string(key), "OPENAI_BASE_URL=" + llm.base_url(),
                     "WEFT_TRACE_CONTENT=true",
                     // An OTLP backend that is down: spans go to the spool.
                     "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://127.0.0.1:9/v1/traces",
                     "WEFT_SPOOL_DIR=" + spool.string(), "WEFT_EXPORT_BATCH_DELAY_MS=20",
                     "WEFT_EXPORT_RETRY_INITIAL_MS=5", "WEFT_EXPORT_RETRY_MAX_MS=10"});
  INFO(srv.err());
  REQUIRE(srv.port());

  // A call the server rejects, quoting the key.
  llm.push(chat_reply::error(401, std::string("Incorrect API key provided: ") + key + "."));
  auto failed =
      http_exchange(srv.port(), json_post("/v1/flows/ask/runs", R"({"inputs": {"q": "hi"}})"));
  REQUIRE(failed);
  CHECK(failed->status >= 400);
  CHECK_THAT(failed->body, Catch::Contains("401"));
  CHECK(failed->body.find(key_part) == std::string::npos);
  // A call that succeeds; the model repeats the key, and content tracing
  // puts the messages on the span.
  llm.push(chat_reply::text(std::string("Your key is ") + key));
  auto ok = http_exchange(srv.port(),
                          json_post("/v1/flows/ask/runs",
                                    std::string(R"({"inputs": {"q": "my key is )") + key + "\"}}"));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  REQUIRE(llm.request_count() == 2);
  CHECK(llm.request(0).header("authorization") == std::string("Bearer ") + key);

  auto metrics = http_exchange(srv.port(), get_request("/metrics"));
  REQUIRE(metrics);
  CHECK(metrics->status == 200);
  CHECK(metrics->body.find(key_part) == std::string::npos);

  // Give the exporter time to fail its uploads and spool the spans.
  auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until &&
         (!std::filesystem::exists(spool) || slurp_tree(spool).empty()))
    std::this_thread::sleep_for(20ms);
  CHECK(srv.stop(SIGTERM) == 0);

  const std::string spooled = std::filesystem::exists(spool) ? slurp_tree(spool) : std::string{};
  CHECK_FALSE(spooled.empty());  // the check below looks at something
  CHECK(spooled.find(key_part) == std::string::npos);
  std::ifstream tf(trace_file);
  const std::string traces((std::istreambuf_iterator<char>(tf)), std::istreambuf_iterator<char>());
  CHECK_THAT(traces, Catch::Contains("gen_ai.input.messages"));  // content tracing was on
  CHECK_THAT(traces, Catch::Contains("chat m1"));
  CHECK(traces.find(key_part) == std::string::npos);
  CHECK(srv.err().find(key_part) == std::string::npos);
  CHECK(srv.out().find(key_part) == std::string::npos);
}
