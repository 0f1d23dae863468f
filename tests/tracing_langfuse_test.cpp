// Langfuse: the langfuse.* attribute mapping, the legacy ingestion encoder
// and its 207 Multi-Status handling.
#include <catch2/catch.hpp>

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "tracing/langfuse.hpp"
#include "tracing/otlp_json.hpp"

using namespace weft::tracing;
using nlohmann::json;

namespace {

constexpr std::uint64_t t0 = 1700000000123456789ULL;  // 2023-11-14T22:13:20.123456789Z

// A run of flow "qa": the run span, a prompt node, an LLM call and a node
// that failed, as the actors would record them.
std::vector<span_record> make_run(bool with_content) {
  const auto trace = trace_id::random();
  auto base = [&](std::string name, span_id parent) {
    span_record s;
    s.trace = trace;
    s.id = span_id::random();
    s.parent = parent;
    s.name = std::move(name);
    s.start_unix_ns = t0;
    s.end_unix_ns = t0 + 2'000'000;
    s.set("weft.run.id", std::string("run-1"));
    s.set("weft.flow.name", std::string("qa"));
    s.set("session.id", std::string("sess-1"));
    s.set("user.id", std::string("user-1"));
    return s;
  };
  span_record run = base("qa", span_id{});
  run.kind = span_kind::server;
  if (with_content) {
    run.set("weft.inputs", std::string(R"({"question":"why?"})"));
    run.set("weft.outputs", std::string(R"({"answer":"because"})"));
  }
  auto node = [&](std::string id, std::string type) {
    span_record s = base(id, run.id);
    s.set("weft.node.id", id);
    s.set("weft.node.type", std::move(type));
    if (with_content) {
      s.set("weft.inputs", std::string(R"({"text":")" + id + R"( in"})"));
      s.set("weft.outputs", std::string(R"({"text":")" + id + R"( out"})"));
    }
    return s;
  };
  span_record prompt = node("prompt", "prompt_template");
  span_record llm = node("answer", "OpenAI_LLM");
  llm.set("gen_ai.operation.name", std::string("chat"));
  llm.set("gen_ai.request.model", std::string("gpt-4o"));
  llm.set("gen_ai.usage.input_tokens", std::int64_t{12});
  llm.set("gen_ai.usage.output_tokens", std::int64_t{34});
  span_record broken = node("post", "python");
  broken.status = status_code::error;
  broken.status_message = "KeyError: 'x'";
  return {run, prompt, llm, broken};
}

const std::string* text(const span_record& s, std::string_view key) {
  return string_attribute(s, key);
}

std::size_t count_key(const span_record& s, std::string_view key) {
  std::size_t n = 0;
  for (auto& a : s.attributes) n += a.key == key;
  return n;
}

std::vector<json> all_events(const std::vector<std::string>& bodies) {
  std::vector<json> events;
  for (auto& b : bodies) {
    json j = json::parse(b);  // throws (fails the test) on invalid JSON
    for (auto& e : j.at("batch")) events.push_back(e);
  }
  return events;
}

// `s` matches `pattern`, where in the pattern 'd' is a digit, 'x' a
// lowercase hex digit, 'v' one of 8, 9, a, b, and any other character itself.
// (std::regex would do, but trips GCC 12 warnings under sanitizers.)
bool matches(std::string_view s, std::string_view pattern) {
  if (s.size() != pattern.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    switch (pattern[i]) {
      case 'd':
        if (c < '0' || c > '9') return false;
        break;
      case 'x':
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        break;
      case 'v':
        if (c != '8' && c != '9' && c != 'a' && c != 'b') return false;
        break;
      default:
        if (c != pattern[i]) return false;
    }
  }
  return true;
}
bool is_iso_time(std::string_view s) { return matches(s, "dddd-dd-ddTdd:dd:dd.ddddddZ"); }
bool is_uuid_v4(std::string_view s) { return matches(s, "xxxxxxxx-xxxx-4xxx-vxxx-xxxxxxxxxxxx"); }

}  // namespace

// ---------------------------------------------------------------- mapping

TEST_CASE("langfuse mapping: trace, session and user on every span, types by component",
          "[langfuse][tracing]") {
  auto spans = make_run(true);  // content recorded, but not sent:
  add_langfuse_attributes(spans, {});
  for (const auto& s : spans) {
    INFO(s.name);
    REQUIRE(*text(s, "langfuse.trace.name") == "qa");
    REQUIRE(*text(s, "langfuse.session.id") == "sess-1");
    REQUIRE(*text(s, "langfuse.user.id") == "user-1");
    REQUIRE_FALSE(s.find("langfuse.observation.input"));
    REQUIRE_FALSE(s.find("langfuse.observation.output"));
    REQUIRE_FALSE(s.find("langfuse.trace.input"));
    REQUIRE_FALSE(s.find("langfuse.environment"));
    REQUIRE_FALSE(s.find("langfuse.release"));
  }
  REQUIRE(*text(spans[0], "langfuse.observation.type") == "span");
  REQUIRE(*text(spans[1], "langfuse.observation.type") == "span");
  REQUIRE(*text(spans[2], "langfuse.observation.type") ==
          "generation");  // gen_ai.operation.name chat
  REQUIRE(*text(spans[3], "langfuse.observation.type") == "span");

  SECTION("neither a gen_ai attribute nor an \"llm\" node type alone makes a generation") {
    span_record s;
    s.set("gen_ai.system", std::string("anthropic"));
    s.set("weft.node.type", std::string("OpenAI_LLM"));
    REQUIRE(langfuse_observation_type(s) == "span");
  }
  SECTION("no session or user: no attributes for them") {
    span_record s;
    s.set("weft.flow.name", std::string("qa"));
    std::vector<span_record> one{s};
    add_langfuse_attributes(one, {});
    REQUIRE_FALSE(one[0].find("langfuse.session.id"));
    REQUIRE_FALSE(one[0].find("langfuse.user.id"));
  }
}

TEST_CASE("langfuse mapping: failures become ERROR observations", "[langfuse][tracing]") {
  auto spans = make_run(false);
  add_langfuse_attributes(spans, {});
  REQUIRE(*text(spans[3], "langfuse.observation.level") == "ERROR");
  REQUIRE(*text(spans[3], "langfuse.observation.status_message") == "KeyError: 'x'");
  for (int i = 0; i < 3; ++i) REQUIRE_FALSE(spans[i].find("langfuse.observation.level"));
}

TEST_CASE("langfuse mapping: content only when enabled and recorded", "[langfuse][tracing]") {
  langfuse_options o;
  o.content = true;

  SECTION("recorded") {
    auto spans = make_run(true);
    add_langfuse_attributes(spans, o);
    REQUIRE(*text(spans[0], "langfuse.trace.input") == R"({"question":"why?"})");
    REQUIRE(*text(spans[0], "langfuse.trace.output") == R"({"answer":"because"})");
    REQUIRE(*text(spans[0], "langfuse.observation.input") == R"({"question":"why?"})");
    REQUIRE(*text(spans[1], "langfuse.observation.input") == R"({"text":"prompt in"})");
    REQUIRE(*text(spans[2], "langfuse.observation.output") == R"({"text":"answer out"})");
    for (int i = 1; i < 4; ++i) {
      REQUIRE_FALSE(spans[i].find("langfuse.trace.input"));
      REQUIRE_FALSE(spans[i].find("langfuse.trace.output"));
    }
  }
  SECTION("not recorded (content tracing was off in the run)") {
    auto spans = make_run(false);
    add_langfuse_attributes(spans, o);
    for (const auto& s : spans) {
      REQUIRE_FALSE(s.find("langfuse.observation.input"));
      REQUIRE_FALSE(s.find("langfuse.trace.input"));
    }
  }
  SECTION("a root under a remote parent (traceparent) is still the trace's root") {
    auto spans = make_run(true);
    spans[0].parent = span_id::random();
    REQUIRE(is_langfuse_root(spans[0]));
    REQUIRE_FALSE(is_langfuse_root(spans[1]));
    add_langfuse_attributes(spans, o);
    REQUIRE(spans[0].find("langfuse.trace.input"));
  }
}

TEST_CASE("langfuse mapping: environment and release, and no duplicates", "[langfuse][tracing]") {
  auto spans = make_run(true);
  langfuse_options o{"staging", "1.4.2", true};
  spans[1].set("langfuse.observation.type", std::string("agent"));  // set by the component
  add_langfuse_attributes(spans, o);
  add_langfuse_attributes(spans, o);  // applying twice changes nothing
  for (const auto& s : spans) {
    REQUIRE(*text(s, "langfuse.environment") == "staging");
    REQUIRE(*text(s, "langfuse.release") == "1.4.2");
    for (auto key :
         {"langfuse.environment", "langfuse.release", "langfuse.trace.name", "langfuse.session.id",
          "langfuse.observation.type", "langfuse.observation.input"})
      REQUIRE(count_key(s, key) == 1);
  }
  REQUIRE(*text(spans[1], "langfuse.observation.type") == "agent");

  // The OTLP encoder carries them as ordinary attributes.
  const json request = json::parse(encode_export_request(spans, {}));
  REQUIRE(request.dump().find("langfuse.session.id") != std::string::npos);
}

// ---------------------------------------------------------------- legacy

TEST_CASE("langfuse legacy: event types, ids and parents", "[langfuse][tracing]") {
  const auto spans = make_run(false);
  const auto bodies = encode_legacy_batches(spans, {"prod", "2.0", false});
  REQUIRE(bodies.size() == 1);
  const json body = json::parse(bodies[0]);
  REQUIRE(body.at("metadata").at("batch_size") == 5);
  const auto events = all_events(bodies);
  REQUIRE(events.size() == 5);  // trace-create + 4 observations

  std::map<std::string, int> types;
  std::set<std::string> envelope_ids;
  for (const auto& e : events) {
    ++types[e.at("type").get<std::string>()];
    REQUIRE(is_uuid_v4(e.at("id").get<std::string>()));
    envelope_ids.insert(e.at("id").get<std::string>());
    REQUIRE(is_iso_time(e.at("timestamp").get<std::string>()));
  }
  REQUIRE(envelope_ids.size() == events.size());
  REQUIRE(types["trace-create"] == 1);
  REQUIRE(types["span-create"] == 3);
  REQUIRE(types["generation-create"] == 1);

  const json& trace = events[0].at("body");
  REQUIRE(events[0].at("type") == "trace-create");
  REQUIRE(trace.at("id") == spans[0].trace.to_hex());
  REQUIRE(trace.at("name") == "qa");
  REQUIRE(trace.at("sessionId") == "sess-1");
  REQUIRE(trace.at("userId") == "user-1");
  REQUIRE(trace.at("environment") == "prod");
  REQUIRE(trace.at("release") == "2.0");
  REQUIRE(trace.at("timestamp") == "2023-11-14T22:13:20.123456Z");
  REQUIRE(trace.at("metadata").at("weft.run.id") == "run-1");
  REQUIRE_FALSE(trace.contains("input"));

  const json& root = events[1].at("body");
  REQUIRE(events[1].at("type") == "span-create");
  REQUIRE(root.at("id") == spans[0].id.to_hex());
  REQUIRE(root.at("traceId") == spans[0].trace.to_hex());
  REQUIRE_FALSE(root.contains("parentObservationId"));
  REQUIRE(root.at("startTime") == "2023-11-14T22:13:20.123456Z");
  REQUIRE(root.at("endTime") == "2023-11-14T22:13:20.125456Z");
  REQUIRE(root.at("environment") == "prod");

  for (std::size_t i = 2; i < events.size(); ++i) {
    const json& b = events[i].at("body");
    REQUIRE(b.at("id") == spans[i - 1].id.to_hex());
    REQUIRE(b.at("parentObservationId") == spans[0].id.to_hex());
    REQUIRE(b.at("metadata").at("weft.node.id") == spans[i - 1].name);
    REQUIRE_FALSE(b.at("metadata").contains("session.id"));  // a field of the trace instead
  }
  const json& gen = events[3];
  REQUIRE(gen.at("type") == "generation-create");
  REQUIRE(gen.at("body").at("model") == "gpt-4o");
  REQUIRE(gen.at("body").at("usageDetails") == json{{"input", 12}, {"output", 34}, {"total", 46}});

  const json& failed = events[4].at("body");
  REQUIRE(failed.at("level") == "ERROR");
  REQUIRE(failed.at("statusMessage") == "KeyError: 'x'");
  REQUIRE_FALSE(events[2].at("body").contains("level"));

  SECTION("each call gives fresh envelope ids, but the same object ids") {
    const auto again = all_events(encode_legacy_batches(spans, {}));
    REQUIRE(again[1].at("body").at("id") == root.at("id"));
    REQUIRE(again[1].at("id") != events[1].at("id"));
  }
  SECTION("a root with a remote parent gets no parentObservationId") {
    auto remote = spans;
    remote[0].parent = span_id::random();
    const auto ev = all_events(encode_legacy_batches(remote, {}));
    REQUIRE(ev[0].at("type") == "trace-create");
    REQUIRE_FALSE(ev[1].at("body").contains("parentObservationId"));
  }
}

TEST_CASE("langfuse legacy: content as JSON, only when enabled", "[langfuse][tracing]") {
  const auto spans = make_run(true);
  const auto without = all_events(encode_legacy_batches(spans, {}));
  for (const auto& e : without) {
    REQUIRE_FALSE(e.at("body").contains("input"));
    REQUIRE_FALSE(e.at("body").contains("output"));
    REQUIRE_FALSE(e.at("body").at("metadata").contains("weft.inputs"));
  }
  langfuse_options o;
  o.content = true;
  const auto with = all_events(encode_legacy_batches(spans, o));
  REQUIRE(with[0].at("body").at("input") == json{{"question", "why?"}});
  REQUIRE(with[0].at("body").at("output") == json{{"answer", "because"}});
  REQUIRE(with[2].at("body").at("input") == json{{"text", "prompt in"}});

  SECTION("content that is not JSON goes as a string") {
    auto odd = spans;
    for (auto& a : odd[1].attributes)
      if (a.key == "weft.inputs") a.value = std::string("plain \xFF text");
    const auto ev = all_events(encode_legacy_batches(odd, o));
    REQUIRE(ev[2].at("body").at("input").is_string());
  }
}

TEST_CASE("langfuse legacy: batches stay under the size limit", "[langfuse][tracing]") {
  std::vector<span_record> spans;
  for (int run = 0; run < 50; ++run) {
    auto r = make_run(true);
    for (auto& s : r) s.set("padding", std::string(2000, 'p'));
    spans.insert(spans.end(), r.begin(), r.end());
  }
  const std::size_t limit = 50'000;
  langfuse_options o;
  o.content = true;
  const auto bodies = encode_legacy_batches(spans, o, limit);
  REQUIRE(bodies.size() > 5);
  std::size_t events = 0;
  std::set<std::string> ids;
  for (const auto& b : bodies) {
    REQUIRE(b.size() <= limit);
    const json j = json::parse(b);
    REQUIRE(j.at("metadata").at("batch_size") == j.at("batch").size());
    events += j.at("batch").size();
    for (auto& e : j.at("batch")) ids.insert(e.at("id").get<std::string>());
  }
  REQUIRE(events == spans.size() + 50);
  REQUIRE(ids.size() == events);
  REQUIRE(encode_legacy_batches({}, o).empty());
}

TEST_CASE("langfuse legacy: oversized fields are truncated and marked", "[langfuse][tracing]") {
  auto spans = make_run(false);
  // 3000 two-byte characters: the cut must not split one.
  std::string big_text;
  for (int i = 0; i < 3000; ++i) big_text += "\xC3\xA9";
  spans[1].set("weft.inputs", "\"" + big_text + "\"");
  spans[1].set("note", big_text);
  spans[1].status = status_code::error;
  spans[1].status_message = big_text;
  langfuse_options o;
  o.content = true;
  const auto events = all_events(encode_legacy_batches(spans, o, 3'500'000, 1000));
  const json& b = events[2].at("body");
  const auto input = b.at("input").get<std::string>();
  REQUIRE(input.find("\xE2\x80\xA6[truncated by weft: kept") != std::string::npos);
  REQUIRE(input.find("of 6002 bytes]") != std::string::npos);
  REQUIRE(input.size() < 1100);
  REQUIRE(b.at("metadata").at("note").get<std::string>().find("truncated by weft") !=
          std::string::npos);
  REQUIRE(b.at("statusMessage").get<std::string>().find("truncated by weft") != std::string::npos);
  REQUIRE(b.at("metadata").at("weft.truncated") == true);
  REQUIRE_FALSE(events[3].at("body").at("metadata").contains("weft.truncated"));

  SECTION("many metadata keys are capped as a whole") {
    auto many = make_run(false);
    for (int i = 0; i < 500; ++i) many[1].set("k" + std::to_string(i), std::string(50, 'v'));
    const auto ev = all_events(encode_legacy_batches(many, {}, 3'500'000, 2000));
    const json& meta = ev[2].at("body").at("metadata");
    REQUIRE(meta.at("weft.dropped_metadata_keys").get<int>() > 400);
    REQUIRE(meta.at("weft.truncated") == true);
  }
  SECTION("an event too big for a batch is shrunk to fit") {
    auto huge = make_run(false);
    huge[1].set("weft.inputs", std::string(300'000, 'x'));
    huge[1].set("blob", std::string(300'000, 'y'));
    const auto bodies = encode_legacy_batches(huge, o, 20'000);
    for (const auto& body : bodies) REQUIRE(body.size() <= 20'000);
    REQUIRE(all_events(bodies).size() == 5);
  }
}

TEST_CASE("langfuse legacy: always valid JSON, whatever the strings hold", "[langfuse][tracing]") {
  auto spans = make_run(true);
  spans[1].name = std::string("bad \xFF\xFE utf8 \" \\ \n \x01 and nul \0 end", 33);
  spans[1].set("weird", std::string("\xED\xA0\x80 surrogate"));
  spans[1].set("nan", std::numeric_limits<double>::quiet_NaN());
  spans[1].set("huge", std::int64_t{9007199254740993});
  langfuse_options o;
  o.content = true;
  const auto events = all_events(encode_legacy_batches(spans, o));
  const json& meta = events[2].at("body").at("metadata");
  REQUIRE(meta.at("nan") == "NaN");
  REQUIRE(meta.at("huge") == "9007199254740993");  // beyond 2^53: a string
}

TEST_CASE("langfuse legacy: iso8601_utc and uuids", "[langfuse][tracing]") {
  REQUIRE(iso8601_utc(0) == "1970-01-01T00:00:00.000000Z");
  REQUIRE(iso8601_utc(1795291200123456000ULL) == "2026-11-21T20:00:00.123456Z");
  std::set<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    auto id = random_uuid_v4();
    REQUIRE(is_uuid_v4(id));
    ids.insert(id);
  }
  REQUIRE(ids.size() == 1000);
}

// ---------------------------------------------------------------- 207

namespace {

std::string request_with_ids(const std::vector<std::string>& ids) {
  json batch = json::array();
  for (auto& id : ids)
    batch.push_back({{"id", id},
                     {"type", "span-create"},
                     {"timestamp", "t"},
                     {"body", {{"id", "span-" + id}}}});
  return json{{"batch", batch}, {"metadata", {{"batch_size", ids.size()}, {"sdk_name", "weft"}}}}
      .dump();
}

}  // namespace

TEST_CASE("langfuse legacy: 207 retries only 5xx and 429", "[langfuse][tracing]") {
  const std::string request = request_with_ids({"a", "b", "c", "d", "e", "f"});
  const std::string response = R"({
    "successes": [{"id": "a", "status": 201}],
    "errors": [
      {"id": "b", "status": 500, "message": "database down"},
      {"id": "c", "status": 429, "message": "slow down"},
      {"id": "d", "status": 400, "message": "Invalid request data", "error": [{"path": ["body","name"]}]},
      {"id": "e", "status": 403, "error": {"reason": "no access"}}
    ]})";  // "f" is not mentioned at all
  const auto r = parse_legacy_response(207, response, request);
  REQUIRE(r.succeeded == 1);
  REQUIRE(r.retry_event_ids == std::vector<std::string>{"b", "c", "f"});
  REQUIRE(r.rejected.size() == 2);
  REQUIRE(r.rejected[0] == std::pair<std::string, std::string>{"d", "Invalid request data"});
  REQUIRE(r.rejected[1].first == "e");
  REQUIRE_THAT(r.rejected[1].second, Catch::Contains("no access"));

  SECTION("plain 2xx: everything succeeded") {
    const auto ok = parse_legacy_response(200, "", request);
    REQUIRE(ok.succeeded == 6);
    REQUIRE(ok.retry_event_ids.empty());
    REQUIRE(ok.rejected.empty());
  }
  SECTION("whole-request failures") {
    REQUIRE(parse_legacy_response(503, "busy", request).retry_event_ids.size() == 6);
    REQUIRE(parse_legacy_response(429, "", request).retry_event_ids.size() == 6);
    const auto bad = parse_legacy_response(400, "bad body", request);
    REQUIRE(bad.rejected.size() == 6);
    REQUIRE_THAT(bad.rejected[0].second, Catch::Contains("HTTP 400"));
  }
  SECTION("an unreadable 207 retries everything") {
    REQUIRE(parse_legacy_response(207, "<html>", request).retry_event_ids.size() == 6);
  }
}

TEST_CASE("langfuse legacy: subset_batch keeps only the listed events", "[langfuse][tracing]") {
  const auto bodies = encode_legacy_batches(make_run(true), {});
  const auto events = all_events(bodies);
  const std::string retry_id = events[2].at("id");
  const std::string other_id = events[4].at("id");
  const std::string subset = subset_batch(bodies[0], {other_id, retry_id, "unknown"});
  const json j = json::parse(subset);
  REQUIRE(j.at("batch").size() == 2);
  REQUIRE(j.at("batch")[0] == events[2]);  // original order, unchanged events
  REQUIRE(j.at("batch")[1] == events[4]);
  REQUIRE(j.at("metadata").at("batch_size") == 2);
  REQUIRE(subset_batch(bodies[0], {"unknown"}).empty());
  REQUIRE(subset_batch("not json", {retry_id}).empty());

  // The round trip the exporter does: a 207 asks for a retry of some events.
  const std::string response = R"({"successes":[],"errors":[{"id":")" + retry_id +
                               R"(","status":502,"message":"bad gateway"}]})";
  auto r = parse_legacy_response(207, response, bodies[0]);
  REQUIRE(std::find(r.retry_event_ids.begin(), r.retry_event_ids.end(), retry_id) !=
          r.retry_event_ids.end());
  REQUIRE(json::parse(subset_batch(bodies[0], r.retry_event_ids)).at("batch").size() ==
          events.size());
}
