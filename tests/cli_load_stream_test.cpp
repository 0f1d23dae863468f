// `weft load --url --stream` and `--openai`: the binary as a real process
// against a real `weft serve`, whose llm.chat node streams from the scripted
// Chat Completions server in this process; and against that chat server
// directly, as an OpenAI-compatible server that is not weft. Then how one
// answer is judged (cli/load_url_answer.hpp), fed streams that end wrong.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/load_url_answer.hpp"
#include "serve/event_stream.hpp"
#include "support/chat_server.hpp"
#include "support/serve_process.hpp"
#include "support/weft_command.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using weft::cli::load_route;
using weft::cli::read_answer;
using weft::test::chat_reply;
using weft::test::chat_request;
using weft::test::chat_server;
using weft::test::proc_result;
using weft::test::run_weft;

namespace {

constexpr int pieces = 20;  // content deltas per model answer

json load_json(const std::string& args, proc_result& raw) {
  raw = run_weft("load " + args + " --json --no-progress");
  auto j = json::parse(raw.out, nullptr, false);
  return j.is_discarded() ? json() : j;
}

// A served flow `story`: prompt in, llm.chat streaming `pieces` deltas,
// text out; so it is also an OpenAI "model".
struct stream_setup {
  chat_server chat;
  fs::path dir;
  std::string trace_file;
  std::unique_ptr<weft::test::serve_process> srv;
  std::string base;

  stream_setup() {
    chat.set_recording(false);
    chat.on_request([](const chat_request&) {
      chat_reply a;
      for (int i = 0; i < pieces; ++i) a.deltas.push_back("w" + std::to_string(i) + " ");
      std::string all;
      for (auto& d : a.deltas) all += d;
      a.content = all;
      return a;
    });
    dir = weft::test::scratch_dir("weft-load-stream");
    fs::create_directories(dir / "flows");
    std::ofstream(dir / "flows" / "story.yaml")
        << "flow: story\ninputs: {prompt: {type: string}}\nnodes:\n"
           "  ask:\n    type: llm.chat\n    params: {model: m1, base_url: '"
        << chat.base_url() << "', stream: true}\n    inputs: {prompt: $inputs.prompt}\n"
        << "outputs: {text: ask.text}\n";
    trace_file = (dir / "traces.jsonl").string();
    srv = std::make_unique<weft::test::serve_process>(
        std::vector<std::string>{"--flows", (dir / "flows").string(), "--trace-file", trace_file});
    base = "http://127.0.0.1:" + std::to_string(srv->port());
  }
};

weft::net::http_response answer(std::string body) {
  weft::net::http_response r;
  r.status = 200;
  r.body = std::move(body);
  return r;
}

std::string run_event(int id, const std::string& type, const json& data) {
  return "event: " + type + "\ndata: " + data.dump() + "\nid: " + std::to_string(id) + "\n\n";
}

}  // namespace

TEST_CASE("weft load --url --stream: every SSE run complete, events counted, traces audited",
          "[load_url][stream]") {
  stream_setup s;
  INFO(s.srv->err());
  REQUIRE(s.srv->port());
  proc_result r;
  auto j = load_json("--url " + s.base +
                         " --flow story --stream -i prompt=hi --runs 300 --concurrency 30"
                         " --session-id s1 --user-id u1 --trace-file " +
                         s.trace_file,
                     r);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(j["ok"] == 300);
  CHECK(j["stream"]["streams"] == 300);
  CHECK(j["stream"]["complete"] == 300);
  // node_started, one chunk per delta, node_finished, run_finished.
  CHECK(j["stream"]["events"] == 300 * (pieces + 3));
  CHECK(j["stream"]["events_per_s"].get<double>() > 0);
  const double first = j["stream"]["first_event_ms"]["p50"].get<double>();
  CHECK(first > 0);
  CHECK(first <= j["latency_ms"]["p99"].get<double>());
  CHECK(j["stream"]["first_byte_ms"]["p99"].get<double>() > 0);
  CHECK(j["audit"]["traces"] == 300);
  CHECK(j["audit"]["problems"] == 0);

  // The text summary says the same in one line.
  auto text = run_weft("load --url " + s.base +
                       " --flow story --stream -i prompt=hi --runs 5 --no-progress");
  CHECK(text.code == 0);
  CHECK_THAT(text.out,
             Catch::Contains("stream  complete 5/5  events " + std::to_string(5 * (pieces + 3))));
  CHECK_THAT(text.out, Catch::Contains("first event p50"));
  CHECK(s.srv->stop(SIGTERM) == 0);
}

TEST_CASE("weft load --url --openai: chat completions, whole and streamed, audited",
          "[load_url][stream][openai]") {
  stream_setup s;
  INFO(s.srv->err());
  REQUIRE(s.srv->port());
  proc_result r;
  auto whole = load_json("--url " + s.base +
                             " --flow story --openai -i prompt=hi --runs 200 --concurrency 20"
                             " --user-id u1 --session-id s1 --trace-file " +
                             s.trace_file,
                         r);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(whole["ok"] == 200);
  CHECK(whole["http"]["route"] == "openai");
  CHECK_FALSE(whole.contains("stream"));
  CHECK(whole["audit"]["traces"] == 200);
  CHECK(whole["audit"]["problems"] == 0);

  auto streamed = load_json("--url " + s.base +
                                " --flow story --openai --stream -i prompt=hi --runs 200"
                                " --concurrency 20 --trace-file " +
                                s.trace_file,
                            r);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(streamed["ok"] == 200);
  CHECK(streamed["stream"]["complete"] == 200);
  // The role chunk, one per delta, the finish chunk and the usage chunk.
  CHECK(streamed["stream"]["events"] == 200 * (pieces + 3));
  CHECK(streamed["audit"]["problems"] == 0);
  CHECK(s.srv->stop(SIGTERM) == 0);
}

TEST_CASE("weft load --url --openai drives any OpenAI-compatible server, not only weft",
          "[load_url][stream][openai]") {
  stream_setup s;
  proc_result r;
  // The chat server's base URL ends in /v1, as OpenAI clients take it.
  auto j = load_json("--url " + s.chat.base_url() +
                         " --flow gpt-test --openai --stream --runs 100 --concurrency 10",
                     r);
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(j["stream"]["complete"] == 100);
  CHECK(j["stream"]["events"] == 100 * (pieces + 3));
  auto whole = load_json(
      "--url " + s.chat.base_url() + " --flow gpt-test --openai --runs 50 --concurrency 5", r);
  CHECK(r.code == 0);
  CHECK(whole["ok"] == 50);
}

TEST_CASE("weft load --stream / --openai: usage errors name the fix", "[load_url][stream]") {
  stream_setup s;
  REQUIRE(s.srv->port());
  auto no_url = run_weft("load --stream --runs 1 --no-progress");
  CHECK(no_url.code == 2);
  CHECK_THAT(no_url.err, Catch::Contains("--stream drives a server: give --url URL --flow NAME"));
  auto other_input =
      run_weft("load --url " + s.base + " --flow story --openai -i topic=x --runs 1 --no-progress");
  CHECK(other_input.code == 2);
  CHECK_THAT(other_input.err,
             Catch::Contains("-i topic=x: with --openai the only input is prompt=TEXT"));
  auto unknown = run_weft("load --url " + s.base + " --flow nope --openai --runs 1 --no-progress");
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("does not list 'nope'"));
  CHECK_THAT(unknown.err, Catch::Contains("the models it lists: story"));
  CHECK(s.srv->stop(SIGTERM) == 0);
}

TEST_CASE("load answers: a run stream is complete only when it ends in run_finished, ids unbroken",
          "[load_url][stream]") {
  const std::string good =
      run_event(1, "node_started", {{"path", {"a"}}}) + run_event(2, "chunk", {{"data", "x"}}) +
      run_event(3, "run_finished", {{"status", "ok"}, {"trace_id", "t1"}, {"run_id", "r1"}});
  auto a = read_answer(load_route::runs_stream, answer(good), false);
  CHECK(a.ok);
  CHECK(a.complete);
  CHECK(a.events == 3);
  CHECK(a.trace_id == "t1");
  CHECK(a.run_id == "r1");
  // Split into CRLF lines it is the same stream.
  std::string crlf;
  for (char c : good) crlf += c == '\n' ? std::string("\r\n") : std::string(1, c);
  CHECK(read_answer(load_route::runs_stream, answer(crlf), false).ok);

  auto cut = read_answer(load_route::runs_stream, answer(good.substr(0, good.size() - 5)), false);
  CHECK_FALSE(cut.ok);
  CHECK_THAT(cut.error, Catch::Contains("without run_finished"));

  auto gap = read_answer(
      load_route::runs_stream,
      answer(run_event(1, "node_started", {}) + run_event(3, "run_finished", {{"status", "ok"}})),
      false);
  CHECK_FALSE(gap.ok);
  CHECK_THAT(gap.error, Catch::Contains("has id '3', expected 2"));

  auto failed =
      read_answer(load_route::runs_stream,
                  answer(run_event(1, "run_finished",
                                   {{"status", "error"}, {"node", "ask"}, {"error", "boom"}})),
                  false);
  CHECK(failed.complete);
  CHECK_FALSE(failed.ok);
  CHECK_THAT(failed.error, Catch::Contains("run failed at node 'ask': boom"));

  auto overflow =
      read_answer(load_route::runs_stream,
                  answer(run_event(1, "node_started", {}) +
                         run_event(2, "error", {{"error", "the client read too slowly"}})),
                  false);
  CHECK_FALSE(overflow.ok);
  CHECK_THAT(overflow.error,
             Catch::Contains("the server ended the stream: the client read too slowly"));
  // As the server sends it: the overflow's error event has no id line.
  auto unnumbered =
      read_answer(load_route::runs_stream,
                  answer(run_event(1, "node_started", {}) +
                         weft::serve::sse_event("error", json{{"error", "too slow"}}.dump(), 0)),
                  false);
  CHECK_FALSE(unnumbered.ok);
  CHECK_THAT(unnumbered.error, Catch::Contains("the server ended the stream: too slow"));

  auto truncated = read_answer(load_route::runs_stream, answer(good), true);
  CHECK_FALSE(truncated.ok);
  CHECK_THAT(truncated.error, Catch::Contains("size limit"));
}

TEST_CASE("load answers: chat completions and their streams", "[load_url][stream][openai]") {
  auto whole = read_answer(
      load_route::chat,
      answer(R"({"id":"chatcmpl-r9","object":"chat.completion","choices":[{"index":0}]})"), false);
  CHECK(whole.ok);
  CHECK(whole.run_id == "r9");
  auto not_chat = read_answer(load_route::chat, answer(R"({"id":"x","object":"list"})"), false);
  CHECK_FALSE(not_chat.ok);
  CHECK_THAT(not_chat.error, Catch::Contains("not a chat.completion"));

  const std::string chunk = R"(data: {"object":"chat.completion.chunk","choices":[]})"
                            "\n\n";
  auto good =
      read_answer(load_route::chat_stream, answer(chunk + chunk + "data: [DONE]\n\n"), false);
  CHECK(good.ok);
  CHECK(good.events == 2);
  auto no_done = read_answer(load_route::chat_stream, answer(chunk + chunk), false);
  CHECK_FALSE(no_done.ok);
  CHECK_THAT(no_done.error, Catch::Contains("without [DONE]"));
  auto error = read_answer(
      load_route::chat_stream,
      answer(chunk + R"(data: {"error":{"message":"node ask failed","code":"run_failed"}})"
                     "\n\n"),
      false);
  CHECK_FALSE(error.ok);
  CHECK_THAT(error.error, Catch::Contains("node ask failed (run_failed)"));
  auto after =
      read_answer(load_route::chat_stream, answer(chunk + "data: [DONE]\n\n" + chunk), false);
  CHECK_FALSE(after.ok);
  CHECK_THAT(after.error, Catch::Contains("after [DONE]"));
}
