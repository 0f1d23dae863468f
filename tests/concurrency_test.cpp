// Thousands of runs in flight at once, asserted on the exported spans: no span
// in a foreign trace, one root per run, correct parents, and the run's own
// session and user ids on every span. Run again with one scheduler thread.
// `make tsan` runs these under ThreadSanitizer.
#include <filesystem>
#include <random>

#include "support/engine_fixture.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;

namespace {

// A flow with parallel branches of different sleeps that join, then a tail.
// Each variant gets its own random sleep lengths.
std::string branchy_flow(int variant, std::mt19937& rng) {
  std::uniform_int_distribution<int> ms(5, 60);
  std::string f = "flow: branchy" + std::to_string(variant) + R"(
inputs: {who: {type: string}}
nodes:
  start: {type: passthrough, inputs: {value: $inputs.who}}
)";
  for (int b = 0; b < 4; ++b)
    f += "  b" + std::to_string(b) + ": {type: sleep, params: {ms: " + std::to_string(ms(rng)) +
         "}, inputs: {value: start.value}}\n";
  f += R"(  join:
    type: template
    params: {template: "{{a}}|{{b}}|{{c}}|{{d}}"}
    inputs: {a: b0.value, b: b1.value, c: b2.value, d: b3.value}
  tail: {type: passthrough, inputs: {value: join.text}}
outputs: {out: tail.value}
)";
  return f;
}

constexpr std::size_t spans_per_run = 1 + 7;  // run span + 7 nodes

void run_many(int threads, int runs, std::string trace_file) {
  std::filesystem::remove(trace_file);
  engine_options opts;
  opts.settings.threads = threads;
  opts.settings.tracing.trace_file = trace_file;
  opts.settings.tracing.batch_delay_ms = 50;
  engine eng(std::move(opts));

  std::mt19937 rng(12345);
  std::vector<std::shared_ptr<const flows::plan>> flows_;
  for (int v = 0; v < 8; ++v) flows_.push_back(test::must_load(eng, branchy_flow(v, rng)));

  std::vector<std::future<run_result>> futures;
  futures.reserve(static_cast<std::size_t>(runs));
  std::vector<std::string> who(static_cast<std::size_t>(runs));
  for (int i = 0; i < runs; ++i) {
    run_options o;
    o.session_id = "session-" + std::to_string(i);
    o.user_id = "user-" + std::to_string(i % 97);
    who[static_cast<std::size_t>(i)] = "w" + std::to_string(i);
    futures.push_back(eng.run(flows_[static_cast<std::size_t>(i) % flows_.size()],
                              {{"who", who[static_cast<std::size_t>(i)]}}, o));
  }
  // Every run sleeps at least 5 ms in each branch, and submitting takes far
  // less than that per run on any machine we run on, so most are in flight
  // together; the peak is recorded, not assumed.
  auto peak = eng.runs_in_flight();
  INFO("runs in flight right after submitting: " << peak);

  std::vector<tracing::audit_expectation> expect;
  for (int i = 0; i < runs; ++i) {
    auto r = futures[static_cast<std::size_t>(i)].get();
    REQUIRE(r.ok);
    auto w = who[static_cast<std::size_t>(i)];
    REQUIRE(r.outputs.at("out") == w + "|" + w + "|" + w + "|" + w);
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(r.trace_id);
    e.run_id = r.run_id;
    e.session_id = "session-" + std::to_string(i);
    e.user_id = "user-" + std::to_string(i % 97);
    e.expected_spans = spans_per_run;
    expect.push_back(e);
  }
  REQUIRE(eng.shutdown());
  auto stats = eng.stats();
  CHECK(stats.total_dropped() == 0);

  std::vector<tracing::span_record> spans;
  auto summary = tracing::read_otlp_json_file(trace_file, spans);
  REQUIRE(summary.ok());
  REQUIRE(spans.size() == static_cast<std::size_t>(runs) * spans_per_run);
  auto report = tracing::audit_traces(spans, expect);
  std::string problems;
  for (auto& p : report.problems) problems += p + "\n";
  INFO(problems);
  CHECK(report.ok());
  CHECK(report.traces == static_cast<std::size_t>(runs));

  // Beyond the audit: each node span hangs directly under its run's root, and
  // every trace holds exactly the node names of the flow.
  std::map<tracing::trace_id, std::vector<const tracing::span_record*>> by_trace;
  for (auto& s : spans) by_trace[s.trace].push_back(&s);
  for (auto& [t, list] : by_trace) {
    const tracing::span_record* root = nullptr;
    for (auto* s : list)
      if (!s->parent.valid()) root = s;
    REQUIRE(root);
    std::multiset<std::string> names;
    for (auto* s : list) {
      if (s == root) continue;
      CHECK(s->parent == root->id);
      names.insert(s->name);
    }
    CHECK(names == std::multiset<std::string>{"b0", "b1", "b2", "b3", "join", "start", "tail"});
  }
  CHECK(peak >= runs / 2);
}

}  // namespace

TEST_CASE("2,500 concurrent runs each get one correct trace", "[concurrency]") {
  run_many(0, 2500,
           (std::filesystem::temp_directory_path() / "weft-concurrency-all.jsonl").string());
}

TEST_CASE("2,500 concurrent runs on a single scheduler thread", "[concurrency]") {
  run_many(1, 2500,
           (std::filesystem::temp_directory_path() / "weft-concurrency-one.jsonl").string());
}
