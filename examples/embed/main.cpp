// A small service that embeds weft: the reference for embedders (README,
// "Embedding"). It
//   1. adds a component type of its own, `acme.later`, which waits without
//      blocking a thread (ctx.after) and opens a span of its own;
//   2. loads a flow, from a string, that uses it beside a built-in type;
//   3. starts 1,000 runs at once through the callback API, each with its
//      own session id;
//   4. reads the trace file back and checks that every run has its own
//      trace: one root span (the run's), every span's parent inside it, and
//      the run's session and user on every span;
//   5. shuts the engine down, which waits for runs and flushes every span.
//
// Usage: weft_embed_example [RUNS] [TRACE_FILE]. Exit status 0 when every
// run succeeded and every trace checks out.
#include <weft/weft.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

// acme.later: passes `value` on after `ms` milliseconds, with " (later)"
// added. One instance serves every run of the flow, so it keeps nothing
// per run: the wait is a timer on the node's own actor (ctx.after), and
// what the timer needs travels in its callback.
class later final : public weft::component {
 public:
  explicit later(int ms) : ms_(ms) {}

  void start(weft::node_context& ctx, weft::value_map in) const override {
    auto wait = ctx.start_span("acme.wait");  // a child of the node's span
    wait.set("acme.wait_ms", ms_);
    std::string text = in["value"].get<std::string>();
    // The callback runs on the node's actor, like start(); the context stays
    // valid until the node ends, and a late timer after that does nothing.
    ctx.after(std::chrono::milliseconds(ms_), [&ctx, wait, text]() mutable {
      wait.end();
      ctx.complete({{"value", text + " (later)"}});
    });
  }

 private:
  int ms_;
};

weft::component_type later_type() {
  weft::component_type t;
  t.type = "acme.later";
  t.summary = "passes its value on after a delay, without blocking a thread";
  t.inputs = {{"value"}};
  t.outputs = {"value"};
  t.params = {{"ms", false}};
  t.opens_spans = true;
  t.make = [](const weft::node_info& node) {
    int ms = node.params.value("ms", 10);
    if (ms < 0 || ms > 60000)
      throw std::invalid_argument("param 'ms' must be 0..60000, got " + std::to_string(ms));
    return std::make_shared<later>(ms);
  };
  return t;
}

const char* const flow_text = R"(
flow: greet_later
inputs:
  name: {type: string}
nodes:
  hello:
    type: template
    params: {template: "Hello, {{name}}"}
    inputs: {name: $inputs.name}
  later:
    type: acme.later
    params: {ms: 20}
    inputs: {value: hello.text}
outputs:
  greeting: later.value
)";

struct outcome {
  weft::run_result result;
  std::string session;
};

// An attribute's string value from an OTLP/JSON span, or "".
std::string attr(const nlohmann::json& span, const std::string& key) {
  for (const auto& a : span.value("attributes", nlohmann::json::array()))
    if (a.value("key", "") == key) return a["value"].value("stringValue", "");
  return {};
}

// Checks each run's trace in the file; returns the problems found.
std::vector<std::string> check_traces(const std::string& path, const std::vector<outcome>& runs,
                                      std::size_t spans_per_run) {
  std::map<std::string, std::vector<nlohmann::json>> by_trace;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto batch = nlohmann::json::parse(line, nullptr, false);
    if (batch.is_discarded()) return {path + ": a line is not JSON"};
    for (const auto& rs : batch["resourceSpans"])
      for (const auto& ss : rs["scopeSpans"])
        for (const auto& s : ss["spans"]) by_trace[s["traceId"].get<std::string>()].push_back(s);
  }
  std::vector<std::string> problems;
  auto problem = [&](const outcome& o, const std::string& what) {
    if (problems.size() < 20) problems.push_back("run " + o.result.run_id + ": " + what);
  };
  for (const auto& o : runs) {
    auto it = by_trace.find(o.result.trace_id);
    if (it == by_trace.end()) {
      problem(o, "no spans with its trace id " + o.result.trace_id);
      continue;
    }
    const auto& spans = it->second;
    if (spans.size() != spans_per_run)
      problem(o,
              std::to_string(spans.size()) + " spans, expected " + std::to_string(spans_per_run));
    std::set<std::string> ids;
    for (const auto& s : spans) ids.insert(s["spanId"].get<std::string>());
    int roots = 0;
    for (const auto& s : spans) {
      std::string parent = s.value("parentSpanId", "");
      if (parent.empty()) {
        ++roots;
        if (s["spanId"] != o.result.root_span_id) problem(o, "its root span is not the run's span");
      } else if (!ids.count(parent)) {
        problem(o,
                "span '" + s["name"].get<std::string>() + "' has a parent outside the run's trace");
      }
      if (attr(s, "session.id") != o.session) problem(o, "a span without the run's session.id");
      if (attr(s, "user.id") != "embed-example") problem(o, "a span without the run's user.id");
    }
    if (roots != 1) problem(o, std::to_string(roots) + " root spans, expected 1");
  }
  return problems;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::stoi(argv[1]) : 1000;
  const std::string trace_file = argc > 2 ? argv[2] : "weft-embed-traces.jsonl";
  std::remove(trace_file.c_str());

  weft::engine_options opts;
  opts.settings.tracing.trace_file = trace_file;
  opts.log = [](weft::log_level level, std::string_view msg) {
    std::cerr << "[weft " << weft::to_string(level) << "] " << msg << '\n';
  };
  weft::engine eng(std::move(opts));

  if (auto errs = eng.add_component(later_type()); !errs.empty()) {
    for (const auto& e : errs) std::cerr << e.to_string() << '\n';
    return 1;
  }
  auto loaded = eng.load_string(flow_text, "greet_later.yaml");
  if (!loaded) {
    for (const auto& e : loaded.errors) std::cerr << e.to_string() << '\n';
    return 1;
  }

  // The callback API: `done` runs once per run, on an engine thread, and
  // must not block; it only records the result.
  std::vector<outcome> results(static_cast<std::size_t>(runs));
  std::mutex mu;
  std::condition_variable all_done;
  int finished = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < runs; ++i) {
    weft::run_options ro;
    ro.session_id = "session-" + std::to_string(i);
    ro.user_id = "embed-example";
    results[static_cast<std::size_t>(i)].session = ro.session_id;
    eng.run(loaded.flow, {{"name", "caller " + std::to_string(i)}}, ro, [&, i](weft::run_result r) {
      std::lock_guard<std::mutex> lk(mu);
      results[static_cast<std::size_t>(i)].result = std::move(r);
      if (++finished == runs) all_done.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> lk(mu);
    all_done.wait(lk, [&] { return finished == runs; });
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  int failed = 0;
  for (int i = 0; i < runs; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)].result;
    const std::string want = "Hello, caller " + std::to_string(i) + " (later)";
    if (!r.ok || r.outputs.at("greeting") != want) {
      if (++failed <= 5)
        std::cerr << "run " << i << " failed: " << (r.ok ? "wrong output" : r.error) << '\n';
    }
  }

  // Shutting down flushes every span to the trace file before it returns.
  if (!eng.shutdown()) std::cerr << "weft: not every span was flushed\n";
  const auto stats = eng.stats();

  // Each run: the run span, two node spans, and acme.wait under `later`.
  auto problems = check_traces(trace_file, results, 4);
  for (const auto& p : problems) std::cerr << "trace: " << p << '\n';

  std::cout << runs << " runs in " << secs << " s, " << failed << " failed; "
            << stats.spans_received << " spans, " << stats.total_dropped() << " dropped; " << runs
            << " traces checked, " << problems.size() << " problems\n";
  return failed == 0 && problems.empty() && stats.total_dropped() == 0 ? 0 : 1;
}
