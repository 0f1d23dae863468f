// The weft command, run as a real process.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/test_collector.hpp"
#include "support/weft_command.hpp"
#include "tracing/otlp_json_reader.hpp"

namespace fs = std::filesystem;

using weft::test::proc_result;
using weft::test::run_weft;

namespace {

std::string src(const std::string& rel) { return std::string(WEFT_SOURCE_DIR) + "/" + rel; }

std::string scratch(const std::string& name, const std::string& text) {
  auto p = weft::test::scratch_dir() / name;
  std::ofstream(p) << text;
  return p.string();
}

}  // namespace

TEST_CASE("weft run prints outputs on stdout and the trace on stderr", "[cli]") {
  auto trace = scratch("run.jsonl", "");
  fs::remove(trace);
  auto r = run_weft("run " + src("examples/hello.yaml") +
                    " -i name=World --session-id s9 --user-id u9 --trace-file " + trace);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(nlohmann::json::parse(r.out) == nlohmann::json{{"greeting", "Hello, World!"}});
  CHECK_THAT(r.err, Catch::Matches("weft: trace [0-9a-f]{32} -> .*run\\.jsonl\\n"));
  std::vector<weft::tracing::span_record> spans;
  REQUIRE(weft::tracing::read_otlp_json_file(trace, spans).ok());
  CHECK(spans.size() == 3);
  auto trace_hex = r.err.substr(r.err.find("trace ") + 6, 32);
  for (auto& s : spans) CHECK(s.trace.to_hex() == trace_hex);
}

TEST_CASE("weft run converts -i to the declared type and rejects bad values", "[cli]") {
  auto flow = scratch("typed.yaml", R"(
flow: typed
inputs: {n: {type: integer}, flag: {type: boolean}, obj: {type: object}}
nodes:
  t: {type: template, params: {template: "{{n}}/{{#flag}}yes{{/flag}}{{^flag}}no{{/flag}}/{{obj.k}}"}, inputs: {n: $inputs.n, flag: $inputs.flag, obj: $inputs.obj}}
outputs: {t: t.text}
)");
  auto ok =
      run_weft("run " + flow + " -i n=42 -i flag=true -i 'obj={\"k\":\"v\"}' --trace-file t.jsonl");
  INFO(ok.err);
  CHECK(ok.code == 0);
  CHECK(nlohmann::json::parse(ok.out)["t"] == "42/yes/v");
  auto bad = run_weft("run " + flow + " -i n=forty -i flag=true -i 'obj={}' --trace-file t.jsonl");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("-i n: 'forty' is not a valid integer"));
  auto unknown = run_weft("run " + flow + " -i nope=1 --trace-file t.jsonl");
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("has no input 'nope'"));
  auto missing = run_weft("run " + flow + " -i n=1 --trace-file t.jsonl");
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("missing required input 'flag'"));
  auto from_file = scratch("inputs.json", R"({"n": 7, "flag": false, "obj": {"k": 1}})");
  auto f = run_weft("run " + flow + " --inputs " + from_file + " -i n=8 --trace-file t.jsonl");
  CHECK(f.code == 0);
  CHECK(nlohmann::json::parse(f.out)["t"] == "8/no/1");
}

TEST_CASE("weft run --stats prints the exporter's counters", "[cli]") {
  auto r =
      run_weft("run " + src("examples/hello.yaml") + " -i name=x --stats --trace-file stats.jsonl");
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("spans received: 3"));
  CHECK_THAT(r.err, Catch::Contains("sink file: received 3, exported 3, queued 0"));
}

TEST_CASE("weft run exits 1 when the run fails, 2 on usage errors", "[cli]") {
  auto flow = scratch(
      "failing.yaml",
      "flow: bad\nnodes: {x: {type: fail, params: {message: nope}}}\noutputs: {v: x.value}\n");
  auto r = run_weft("run " + flow + " --trace-file t.jsonl");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("weft: run failed: node 'x' failed: nope"));
  CHECK(run_weft("run").code == 2);
  CHECK(run_weft("frobnicate").code == 2);
  auto env = run_weft("run " + src("examples/hello.yaml") + " -i name=x", "WEFT_TRACE_SAMPLE=2");
  CHECK(env.code == 2);
  CHECK_THAT(env.err,
             Catch::Contains("WEFT_TRACE_SAMPLE='2' is not valid: expected a number from 0 to 1"));
}

TEST_CASE("weft run with a traceparent joins the caller's trace; a bad one warns", "[cli]") {
  auto r = run_weft("run " + src("examples/hello.yaml") +
                    " -i name=x --trace-file t.jsonl --traceparent "
                    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("trace 0af7651916cd43dd8448eb211c80319c"));
  auto bad = run_weft("run " + src("examples/hello.yaml") +
                      " -i name=x --trace-file t.jsonl --traceparent garbage");
  CHECK(bad.code == 0);
  CHECK_THAT(bad.err, Catch::Contains("warning: ignoring invalid traceparent"));
}

TEST_CASE("weft run without a configured sink writes the default trace file", "[cli]") {
  auto dir = weft::test::scratch_dir();  // where run_weft runs
  fs::remove(dir / "weft-traces.jsonl");
  auto r = run_weft("run " + src("examples/hello.yaml") + " -i name=x");
  CHECK(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains("-> weft-traces.jsonl"));
  CHECK(fs::exists(dir / "weft-traces.jsonl"));
}

TEST_CASE("weft validate prints every error and exits 2", "[cli]") {
  auto good =
      run_weft("validate " + src("examples/hello.yaml") + " " + src("examples/chain10.yaml"));
  CHECK(good.code == 0);
  auto bad = scratch("bad.yaml",
                     "flow: x\nnodes:\n  a: {type: nope}\n  b: {type: passthrough, inputs: {value: "
                     "zz.value}}\noutputs: {o: a.value}\n");
  auto r = run_weft("validate " + bad);
  CHECK(r.code == 2);
  CHECK_THAT(r.err, Catch::Contains("bad.yaml:3:"));
  CHECK_THAT(r.err, Catch::Contains("unknown component type 'nope'"));
  CHECK_THAT(r.err, Catch::Contains("bad.yaml:4:"));
  CHECK_THAT(r.err, Catch::Contains("zz"));
}

TEST_CASE("weft load runs N runs and audits their traces", "[cli]") {
  auto trace = scratch("load.jsonl", "");
  fs::remove(trace);
  auto r = run_weft(
      "load " + src("examples/chain10.yaml") +
      " --runs 2000 --concurrency 64 --session-id s --user-id u --json --trace-file " + trace);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["runs"] == 2000);
  CHECK(j["ok"] == 2000);
  CHECK(j["failed"] == 0);
  CHECK(j["audit"]["traces"] == 2000);
  CHECK(j["audit"]["spans"] == 22000);
  CHECK(j["audit"]["problems"] == 0);
  for (auto k : {"p50", "p90", "p99", "max"}) CHECK(j["latency_ms"][k].is_number());
  CHECK(j["runs_per_s"].get<double>() > 0);
  REQUIRE(j["export"]["sinks"].size() == 1);
  CHECK(j["export"]["sinks"][0]["name"] == "file");
  CHECK(j["export"]["sinks"][0]["exported"] == 22000);
  CHECK(j["export"]["spans_dropped"] == 0);
}

TEST_CASE("weft load fails when the audit finds a foreign span in a run's trace", "[cli]") {
  // A trace file that already holds a span claiming to be in... any trace is
  // fine here: load audits only its own traces, so a pre-existing garbage
  // line must be reported as a bad line but not fail the audit of its runs.
  // (--trace-file would truncate the file: WEFT_TRACE_FILE appends to it.)
  auto trace = scratch("load2.jsonl", "not json\n");
  auto r =
      run_weft("load " + src("examples/hello.yaml") + " -i name=x --runs 50 --concurrency 5 --json",
               "WEFT_TRACE_FILE='" + trace + "'");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["audit"]["traces"] == 50);
  CHECK_THAT(r.err,
             Catch::Contains("1 unreadable line(s) in the trace file; first: " + trace + ":1:"));
}

TEST_CASE("weft trace show prints each trace as a tree", "[cli]") {
  auto trace = scratch("show.jsonl", "");
  fs::remove(trace);
  auto run = run_weft("run " + src("examples/hello.yaml") +
                      " -i name=x --session-id sx --trace-file " + trace);
  REQUIRE(run.code == 0);
  auto r = run_weft("trace show " + trace);
  CHECK(r.code == 0);
  CHECK_THAT(r.out,
             Catch::Matches("(.|\\n)*trace [0-9a-f]{32}  \\(3 spans\\)\\n  greet  [0-9.]+ ms  ok  "
                            "weft.run.id=[-0-9a-f]+  session.id=sx\\n  \\|- hello  [0-9.]+ ms  ok  "
                            "type=template\\n  `- shout  [0-9.]+ ms  ok  type=passthrough\\n"));
  auto id = run.err.substr(run.err.find("trace ") + 6, 32);
  CHECK(run_weft("trace show " + trace + " --trace-id " + id).code == 0);
  CHECK(run_weft("trace show " + trace + " --trace-id " + std::string(32, 'a')).code == 1);
  CHECK(run_weft("trace show /nonexistent/file.jsonl").code == 2);
}

TEST_CASE("weft serve --listen says what is wrong with the address", "[cli]") {
  auto bad_port = run_weft("serve --flows " + src("examples") + " --listen 127.0.0.1:99999");
  CHECK(bad_port.code == 2);
  CHECK_THAT(bad_port.err, Catch::Contains("--listen: '127.0.0.1:99999': the port must be a "
                                           "number from 0 to 65535; expected HOST:PORT"));
  auto v6 = run_weft("serve --flows " + src("examples") + " --listen ::1:8080");
  CHECK(v6.code == 2);
  CHECK_THAT(v6.err, Catch::Contains("write an IPv6 address in brackets"));
}

namespace {

// One OTLP/JSON request line holding `spans`, each {"id","parent","name"}
// (hex ids; parent may be empty) in trace `trace`.
std::string otlp_line(const std::string& trace, const nlohmann::json& spans) {
  auto list = nlohmann::json::array();
  for (auto& s : spans) {
    nlohmann::json span = {{"traceId", trace},
                           {"spanId", s["id"]},
                           {"name", s["name"]},
                           {"startTimeUnixNano", "1000"},
                           {"endTimeUnixNano", "2000"}};
    if (!s["parent"].get<std::string>().empty()) span["parentSpanId"] = s["parent"];
    list.push_back(span);
  }
  return nlohmann::json{{"resourceSpans", {{{"scopeSpans", {{{"spans", list}}}}}}}}.dump() + "\n";
}

nlohmann::json span_of(const std::string& id, const std::string& parent, const std::string& name) {
  return {{"id", id}, {"parent", parent}, {"name", name}};
}

std::string hex_id(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

const std::string show_trace = "4bf92f3577b34da6a3ce929d0e0e4736";

}  // namespace

TEST_CASE("weft trace show: a span that is its own parent, and a cycle with no root",
          "[cli][trace_show]") {
  // A root and a span that names itself as its parent (issue 14.15: exit 139).
  auto self = scratch(
      "self_parent.jsonl",
      otlp_line(show_trace, nlohmann::json::array({span_of(hex_id(1), "", "root"),
                                                   span_of(hex_id(2), hex_id(2), "selfie")})));
  auto r = run_weft("trace show " + self);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("(2 spans)"));
  CHECK_THAT(r.out, Catch::Contains("\n  root  "));
  CHECK_THAT(r.out, Catch::Contains("(spans in a parent cycle, not under any root:)\n  (span " +
                                    hex_id(2) + " is its own parent)\n  selfie  "));

  // The same, but the span reuses the root's id: it is then its own parent's
  // child, and a recursive walk never ends.
  auto twin = scratch(
      "self_parent_twin.jsonl",
      otlp_line(show_trace, nlohmann::json::array({span_of(hex_id(1), "", "root"),
                                                   span_of(hex_id(1), hex_id(1), "selfie")})));
  r = run_weft("trace show " + twin);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("\n  root  "));
  CHECK_THAT(r.out, Catch::Contains("(span " + hex_id(1) + " is its own parent)\n  selfie  "));

  // Three spans in a ring and one hanging from it: none has a root, all are shown.
  auto ring = scratch(
      "ring.jsonl",
      otlp_line(show_trace,
                nlohmann::json::array(
                    {span_of(hex_id(1), hex_id(3), "a"), span_of(hex_id(2), hex_id(1), "b"),
                     span_of(hex_id(3), hex_id(2), "c"), span_of(hex_id(4), hex_id(2), "leaf")})));
  r = run_weft("trace show " + ring);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("(spans in a parent cycle, not under any root:)"));
  for (auto name : {"a  ", "b  ", "c  ", "leaf  "}) CHECK_THAT(r.out, Catch::Contains(name));
  CHECK_THAT(r.out, Catch::Contains("again: its parent chain is a cycle"));
}

TEST_CASE("weft trace show: a 100,000-deep parent chain", "[cli][trace_show]") {
  constexpr std::uint64_t depth = 100'000;
  std::string text;
  auto batch = nlohmann::json::array();
  for (std::uint64_t i = 1; i <= depth; ++i) {
    batch.push_back(span_of(hex_id(i), i == 1 ? "" : hex_id(i - 1), "s" + std::to_string(i)));
    if (batch.size() == 1000) text += otlp_line(show_trace, batch), batch.clear();
  }
  auto path = scratch("deep_chain.jsonl", text);
  auto r = run_weft("trace show " + path);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == depth + 1);
  // The indentation stops growing; the depth is written out instead.
  auto last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
  CHECK_THAT(last, Catch::Matches(" *`- \\[depth 99999\\] s100000  [0-9.]+ ms  unset\\n"));
}

TEST_CASE("weft trace show: a deeply nested arrayValue is refused with its line, the rest shown",
          "[cli][trace_show]") {
  std::string nested;
  constexpr int levels = 100'000;
  for (int i = 0; i < levels; ++i) nested += R"({"arrayValue":{"values":[)";
  nested += R"({"stringValue":"x"})";
  for (int i = 0; i < levels; ++i) nested += "]}}";
  std::string bad = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + show_trace +
                    R"(","spanId":")" + hex_id(9) +
                    R"(","name":"deep","attributes":[{"key":"k","value":)" + nested + "}]}]}]}]}\n";
  std::string kv;
  for (int i = 0; i < levels; ++i) kv += R"({"kvlistValue":{"values":[{"key":"k","value":)";
  kv += R"({"intValue":"1"})";
  for (int i = 0; i < levels; ++i) kv += "}]}}";
  std::string bad_kv = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + show_trace +
                       R"(","spanId":")" + hex_id(10) +
                       R"(","name":"deepkv","attributes":[{"key":"k","value":)" + kv +
                       "}]}]}]}]}\n";
  auto path =
      scratch("deep_value.jsonl",
              otlp_line(show_trace, nlohmann::json::array({span_of(hex_id(1), "", "fine")})) + bad +
                  bad_kv);
  auto r = run_weft("trace show " + path);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::Contains("(1 spans)"));
  CHECK_THAT(r.out, Catch::Contains("\n  fine  "));
  CHECK_THAT(r.err, Catch::Contains("deep_value.jsonl:2: JSON nested more than 128 levels deep"));
  CHECK_THAT(r.err, Catch::Contains("deep_value.jsonl:3: JSON nested more than 128 levels deep"));
}

TEST_CASE("weft run names the OTLP sink its trace went to", "[cli][run_sinks]") {
  weft::test::test_collector collector;
  const auto endpoint = collector.base_url() + "/v1/traces";
  auto spool = weft::test::scratch_dir() / "otlp-only-spool";
  auto r = run_weft("run " + src("examples/hello.yaml") + " -i name=x",
                    "env -u WEFT_TRACE_FILE -u LANGFUSE_HOST OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='" +
                        endpoint + "' WEFT_SPOOL_DIR='" + spool.string() + "'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.err, Catch::Contains(" -> otlp " + endpoint + "\n"));
  CHECK_THAT(r.err, !Catch::Contains("no sink"));
  CHECK(collector.wait_for([&] { return collector.request_count() > 0; }, std::chrono::seconds(5)));
}

TEST_CASE("weft run: a fail message built from ${ENV} is masked on stderr and in the trace",
          "[cli][redaction]") {
  const std::string secret = "tok-CliEnv-5h4G3f2D1s";
  auto flow = scratch("env_fail.yaml", R"(
flow: envfail
inputs: {api_key: {type: string}}
nodes:
  hop: {type: passthrough, inputs: {value: $inputs.api_key}}
  bad: {type: fail, params: {message: "refused ${WEFT_TEST_SECRET}"}, inputs: {value: hop.value}}
outputs: {v: bad.value}
)");
  auto trace = scratch("env_fail.jsonl", "");
  fs::remove(trace);
  auto r = run_weft("run " + flow + " -i api_key=sk-cli-input-77aa88bb --trace-file " + trace,
                    "WEFT_TEST_SECRET='" + secret + "' WEFT_TRACE_CONTENT=true");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("weft: run failed: node 'bad' failed: refused ***\n"));
  std::ifstream f(trace);
  std::string text((std::istreambuf_iterator<char>(f)), {});
  REQUIRE_FALSE(text.empty());
  for (const std::string& s : {secret, std::string("sk-cli-input-77aa88bb")})
    for (std::size_t i = 0; i + 6 <= s.size(); ++i) {
      CHECK(r.err.find(s.substr(i, 6)) == std::string::npos);
      CHECK(text.find(s.substr(i, 6)) == std::string::npos);
    }
}
