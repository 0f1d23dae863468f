// The Langfuse sink against a real loopback collector: endpoint, Basic auth,
// the langfuse.* attribute mapping, and the secret key never leaking.
#include <filesystem>
#include <fstream>
#include <set>

#include "export/http_sink.hpp"
#include "support/engine_fixture.hpp"
#include "support/test_collector.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;
namespace fs = std::filesystem;
using weft::test::fault;
using weft::test::test_collector;

namespace {

const char* secret = "sk-lf-7d1e-very-secret-value";

engine_options langfuse_options(const test_collector& c, bool content) {
  engine_options o;
  o.settings.tracing.batch_delay_ms = 20;
  o.settings.tracing.content = content;
  config::langfuse_settings l;
  l.host = c.base_url();
  l.public_key = "pk-lf-1234";
  l.secret_key = secret;
  l.environment = "staging";
  l.release = "v1.2.3";
  o.settings.exporter.langfuse = l;
  auto spool = fs::temp_directory_path() / ("weft-langfuse-" + std::to_string(getpid()));
  fs::remove_all(spool);
  o.settings.exporter.spool_dir = spool.string();
  o.settings.exporter.retry_initial_ms = 50;
  return o;
}

std::vector<tracing::span_record> received_spans(const test_collector& c) {
  std::vector<tracing::span_record> out;
  for (auto& r : c.requests())
    for (auto& s : tracing::read_otlp_json_line(r.body, nullptr)) out.push_back(std::move(s));
  return out;
}

const char* flow_text = R"(
flow: support_bot
inputs: {q: {type: string}}
nodes:
  answer: {type: template, params: {template: "A: {{q}}"}, inputs: {q: $inputs.q}}
  check: {type: fail, params: {message: "policy says no"}, inputs: {value: answer.text}}
outputs: {a: check.value}
)";

}  // namespace

TEST_CASE("langfuse: OTLP endpoint, Basic auth, attributes on every span", "[exporter][langfuse]") {
  test_collector c;
  engine eng(langfuse_options(c, true));
  auto flow = test::must_load(eng, flow_text);
  run_options o;
  o.session_id = "sess-42";
  o.user_id = "user-7";
  auto r = eng.run(flow, {{"q", "hello"}}, o).get();
  CHECK_FALSE(r.ok);
  REQUIRE(eng.shutdown());

  auto reqs = c.requests();
  REQUIRE_FALSE(reqs.empty());
  CHECK(reqs[0].path == "/api/public/otel/v1/traces");
  // base64("pk-lf-1234:sk-lf-7d1e-very-secret-value")
  CHECK(reqs[0].header("Authorization") ==
        std::optional<std::string>("Basic cGstbGYtMTIzNDpzay1sZi03ZDFlLXZlcnktc2VjcmV0LXZhbHVl"));

  auto spans = received_spans(c);
  REQUIRE(spans.size() == 3);
  for (auto& s : spans) {
    CHECK(test::str_attr(s, "langfuse.trace.name") == "support_bot");
    CHECK(test::str_attr(s, "langfuse.session.id") == "sess-42");
    CHECK(test::str_attr(s, "langfuse.user.id") == "user-7");
    CHECK(test::str_attr(s, "langfuse.environment") == "staging");
    CHECK(test::str_attr(s, "langfuse.release") == "v1.2.3");
    CHECK(test::str_attr(s, "langfuse.observation.type") == "span");
  }
  auto check = test::find_span(spans, "check");
  REQUIRE(check);
  CHECK(test::str_attr(*check, "langfuse.observation.level") == "ERROR");
  CHECK(test::str_attr(*check, "langfuse.observation.status_message") == "policy says no");
  auto answer = test::find_span(spans, "answer");
  REQUIRE(answer);
  CHECK_THAT(test::str_attr(*answer, "langfuse.observation.output"), Catch::Contains("A: hello"));
  auto root = test::find_span(spans, "support_bot");
  REQUIRE(root);
  CHECK_THAT(test::str_attr(*root, "langfuse.trace.input"), Catch::Contains("hello"));
}

TEST_CASE("langfuse: without content tracing no input or output is sent", "[exporter][langfuse]") {
  test_collector c;
  engine eng(langfuse_options(c, false));
  auto flow = test::must_load(eng, flow_text);
  eng.run(flow, {{"q", "private words"}}).get();
  REQUIRE(eng.shutdown());
  for (auto& r : c.requests()) CHECK(r.body.find("private words") == std::string::npos);
  for (auto& s : received_spans(c)) {
    CHECK(s.find("langfuse.observation.input") == nullptr);
    CHECK(s.find("langfuse.observation.output") == nullptr);
  }
}

TEST_CASE("langfuse: the secret key never appears in output, logs, spans or stats",
          "[exporter][langfuse][cli]") {
  test_collector c;
  // A rejecting and a failing backend make the sink log as much as it can.
  c.script({fault::answer(401, {}, R"({"message":"bad key"})"), fault::answer(503)});
  auto dir = fs::temp_directory_path() / ("weft-secret-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string cmd =
      "cd '" + dir.string() + "' && LANGFUSE_PUBLIC_KEY=pk-lf-1 LANGFUSE_SECRET_KEY=" + secret +
      " LANGFUSE_HOST=" + c.base_url() +
      " WEFT_EXPORT_RETRY_INITIAL_MS=50 WEFT_TRACE_CONTENT=true WEFT_SPOOL_DIR=spool '" +
      WEFT_BINARY + "' load " + WEFT_SOURCE_DIR +
      "/examples/hello.yaml -i name=x --runs 200 --concurrency 8 --trace-file t.jsonl"
      " --session-id s > out.txt 2>&1; '" +
      WEFT_BINARY + "' run " + WEFT_SOURCE_DIR +
      "/examples/hello.yaml -i name=x --stats --trace-file t.jsonl >> out.txt 2>&1";
  std::system(cmd.c_str());
  std::string all;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream f(e.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(f), {});
  }
  for (auto& r : c.requests()) all += r.body;
  CHECK(all.size() > 1000);  // there was output to search
  CHECK(all.find(secret) == std::string::npos);
  CHECK(all.find("sk-lf-7d1e") == std::string::npos);
}

TEST_CASE("langfuse legacy: batches of events to /api/public/ingestion, retried on 503",
          "[exporter][langfuse]") {
  test_collector c;
  c.script({fault::answer(503)});
  auto o = langfuse_options(c, false);
  o.settings.exporter.langfuse->legacy = true;
  engine eng(std::move(o));
  auto flow = test::must_load(eng, flow_text);
  run_options ro;
  ro.session_id = "sess-legacy";
  eng.run(flow, {{"q", "x"}}, ro).get();
  REQUIRE(eng.shutdown());
  auto reqs = c.requests();
  REQUIRE(reqs.size() >= 2);
  std::set<std::string> types;
  for (auto& r : reqs) {
    CHECK(r.path == "/api/public/ingestion");
    CHECK(r.header("Authorization") ==
          std::optional<std::string>("Basic cGstbGYtMTIzNDpzay1sZi03ZDFlLXZlcnktc2VjcmV0LXZhbHVl"));
  }
  auto body = nlohmann::json::parse(reqs.back().body);
  for (auto& e : body["batch"]) {
    types.insert(e["type"].get<std::string>());
    if (e["type"] == "trace-create") CHECK(e["body"]["sessionId"] == "sess-legacy");
  }
  CHECK(types == std::set<std::string>{"trace-create", "span-create"});
  CHECK(body["batch"].size() == 4);  // trace + 3 observations
}

TEST_CASE("langfuse legacy: a 207 retries only the events that failed with 5xx or 429",
          "[exporter][langfuse]") {
  config::langfuse_settings l;
  l.host = "http://127.0.0.1:9";
  l.public_key = "pk";
  l.secret_key = "sk";
  auto proto = exporting::make_langfuse_legacy_protocol(l, false);
  std::vector<tracing::span_record> batch;
  auto trace = tracing::trace_id::random();
  auto root = tracing::span_id::random();
  for (int i = 0; i < 4; ++i) {
    tracing::span_record s;
    s.trace = trace;
    s.id = i == 0 ? root : tracing::span_id::random();
    if (i) s.parent = root;
    s.name = i == 0 ? "flow" : "n" + std::to_string(i);
    s.set("weft.flow.name", "flow");
    if (i) s.set("weft.node.id", s.name);
    s.start_unix_ns = s.end_unix_ns = tracing::now_unix_ns();
    batch.push_back(s);
  }
  auto req = proto->make_request(batch);
  auto events = nlohmann::json::parse(req.body)["batch"];
  auto event_for = [&](const tracing::span_record& s) {
    for (auto& e : events)
      if (e["type"] == "span-create" && e["body"]["id"] == s.id.to_hex())
        return e["id"].get<std::string>();
    FAIL("no event for span " << s.name);
    return std::string{};
  };
  nlohmann::json answer = {{"successes", nlohmann::json::array()},
                           {"errors", nlohmann::json::array()}};
  for (auto& e : events) {
    auto id = e["id"].get<std::string>();
    if (id == event_for(batch[1]))
      answer["errors"].push_back({{"id", id}, {"status", 500}, {"message", "db down"}});
    else if (id == event_for(batch[2]))
      answer["errors"].push_back({{"id", id}, {"status", 400}, {"message", "bad field"}});
    else if (id == event_for(batch[3]))
      answer["errors"].push_back({{"id", id}, {"status", 429}, {"message", "slow down"}});
    else answer["successes"].push_back({{"id", id}, {"status", 201}});
  }
  net::http_response r;
  r.status = 207;
  r.body = answer.dump();
  auto v = proto->judge(req, r, batch);
  CHECK(v.kind == exporting::delivery_verdict::delivered);
  CHECK(v.rejected_spans == 1);
  REQUIRE(v.retry_spans.size() == 2);
  std::set<std::string> retried{v.retry_spans[0].name, v.retry_spans[1].name};
  CHECK(retried == std::set<std::string>{"n1", "n3"});
}
