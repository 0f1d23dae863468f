// Placement: a node with `placement: {tags: [gpu]}` runs on a worker with
// those tags, as a remote child of the front's run actor. Its span, and a
// composite's whole subtree, sit in the worker's file under the front's run
// span; a worker without the tags runs nothing of it. A node whose tags no
// worker has fails with "no worker with tags [...]", and its span says so.
// The flow syntax is checked with errors that name the file and line.
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/cluster_workers.hpp"
#include "support/flow_dir.hpp"
#include "support/weft_command.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "weft/weft.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

// A local node, then a map over ticket.yaml placed on a gpu worker: the
// map node and every child run under it run there.
const char* placed_flow = R"(flow: placed
inputs:
  tickets: {type: array}
  name: {type: string}
nodes:
  greet: {type: template, params: {template: "hi {{n}}"}, inputs: {n: $inputs.name}}
  each:
    type: map
    placement: {tags: [gpu]}
    params: {flow: ./ticket.yaml, max_concurrency: 4, output: reply}
    inputs: {items: $inputs.tickets}
outputs: {greeting: greet.text, replies: each.results}
)";

const char* tpu_flow = R"(flow: tpu
inputs:
  x: {type: string}
nodes:
  first: {type: template, params: {template: "[{{x}}]"}, inputs: {x: $inputs.x}}
  big: {type: template, placement: {tags: [tpu]}, params: {template: "{{x}}!"}, inputs: {x: first.text}}
outputs: {y: big.text}
)";

}  // namespace

TEST_CASE("placement: a gpu node and its subtree run on the gpu worker alone under the run span",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  dir.write("flows/placed.yaml", placed_flow);
  auto gpu = start_worker(dir, "gpu", "127.0.0.1:0", {"--tags", "gpu,eu"});
  auto cpu = start_worker(dir, "cpu");

  constexpr int runs = 40;
  std::vector<run_result> results;
  {
    engine eng(timed_front(dir, {at(*cpu), at(*gpu)}));
    REQUIRE(eng.wait_for_workers(2, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/placed.yaml").string());
    REQUIRE(loaded);
    value tickets = value::array();
    tickets.push_back(value{{"text", "db down"}, {"score", 0.9}});
    tickets.push_back(value{{"text", "typo"}, {"score", 0.1}});
    std::vector<std::future<run_result>> futures;
    for (int i = 0; i < runs; ++i) {
      run_options ro;
      ro.session_id = "s-" + std::to_string(i);
      ro.user_id = "u";
      futures.push_back(
          eng.run(loaded.flow, {{"tickets", tickets}, {"name", "n" + std::to_string(i)}}, ro));
    }
    for (auto& f : futures) results.push_back(f.get());
    eng.shutdown();
  }
  for (int i = 0; i < runs; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.outputs.at("greeting") == "hi n" + std::to_string(i));
    CHECK(r.outputs.at("replies") == value::array({"URGENT: db down", "queued: typo"}));
    // The run stayed here: nothing says a worker ran it as a whole.
    CHECK(r.worker.empty());
  }
  CHECK(gpu->stop(SIGTERM) == 0);
  CHECK(cpu->stop(SIGTERM) == 0);

  // The front holds each run span and the local node's; the gpu worker
  // holds the map node's span under that run span, with the child runs.
  auto front = spans_in(dir, "front.jsonl");
  auto on_gpu = spans_in(dir, "gpu.jsonl");
  CHECK(spans_in(dir, "cpu.jsonl").empty());
  std::map<std::string, std::string> run_span;  // trace -> the front's run span
  std::multiset<std::string> front_names;
  for (const auto& s : front) {
    front_names.insert(s.name);
    if (s.name == "placed") run_span[s.trace.to_hex()] = s.id.to_hex();
  }
  CHECK(front_names.count("placed") == runs);
  CHECK(front_names.count("greet") == runs);
  CHECK(front_names.count("each") == 0);
  CHECK(front_names.count("ticket") == 0);
  int each = 0, ticket_runs = 0;
  for (const auto& s : on_gpu) {
    if (s.name == "each") {
      ++each;
      CHECK(s.parent.to_hex() == run_span[s.trace.to_hex()]);
      CHECK(s.status == tracing::status_code::ok);
    }
    if (s.name == "ticket") ++ticket_runs;
  }
  CHECK(each == runs);
  CHECK(ticket_runs == 2 * runs);

  // One clean trace per run across the two files: parents resolve, every
  // span carries the run's session and user.
  std::vector<tracing::audit_expectation> expect;
  for (int i = 0; i < runs; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(r.trace_id);
    e.run_id = r.run_id;
    e.session_id = "s-" + std::to_string(i);
    e.user_id = "u";
    e.min_spans = 3 + 2 * 4;  // run, greet, each; two ticket runs of 4 spans
    expect.push_back(std::move(e));
  }
  auto all = front;
  all.insert(all.end(), on_gpu.begin(), on_gpu.end());
  auto report = tracing::audit_traces(all, expect);
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok());
  CHECK(report.traces == runs);

  // `weft trace show` reads both files as one: the run's whole tree.
  auto shown = run_weft("trace show " + (dir.path() / "front.jsonl").string() + " " +
                        (dir.path() / "gpu.jsonl").string() + " --last 1");
  INFO(shown.out << shown.err);
  CHECK(shown.code == 0);
  CHECK_THAT(shown.out, Catch::Contains("(" + std::to_string(3 + 2 * 4) + " spans)"));
  CHECK_THAT(shown.out, Catch::Contains("- each"));
  CHECK_THAT(shown.out, Catch::Contains("ticket"));
}

TEST_CASE("placement: a node whose tags no worker has fails and its span says why",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/tpu.yaml", tpu_flow);
  auto gpu = start_worker(dir, "gpu", "127.0.0.1:0", {"--tags", "gpu"});
  run_result r;
  {
    engine eng(timed_front(dir, {at(*gpu)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/tpu.yaml").string());
    REQUIRE(loaded);
    r = eng.run(loaded.flow, {{"x", "a"}}).get();
    eng.shutdown();
  }
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "big");
  CHECK_THAT(r.error, Catch::Contains("no worker with tags [tpu]"));
  CHECK_THAT(r.error, Catch::Contains(at(*gpu) + " [gpu]"));  // who is there, with its tags
  CHECK(gpu->stop(SIGTERM) == 0);
  auto front = spans_in(dir, "front.jsonl");
  const tracing::span_record* run = nullptr;
  const tracing::span_record* big = nullptr;
  for (const auto& s : front) {
    if (s.name == "tpu") run = &s;
    if (s.name == "big") big = &s;
  }
  REQUIRE(run);
  REQUIRE(big);
  CHECK(big->parent == run->id);
  CHECK(big->status == tracing::status_code::error);
  CHECK_THAT(big->status_message, Catch::Contains("no worker with tags [tpu]"));
  CHECK(spans_in(dir, "gpu.jsonl").empty());
}

TEST_CASE("placement: an engine without workers fails a placed node and says so", "[cluster]") {
  engine_options o;
  o.log = [](log_level, std::string_view) {};
  engine eng(o);
  auto loaded = eng.load_string(tpu_flow);
  REQUIRE(loaded);
  auto r = eng.run(loaded.flow, {{"x", "a"}}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "big");
  CHECK_THAT(r.error, Catch::Contains("no worker with tags [tpu]: this engine has no workers"));
}

TEST_CASE("placement: the flow syntax is checked where it is written", "[cluster][flows]") {
  engine eng;
  auto error_of = [&](const std::string& placement) {
    auto loaded = eng.load_string(
        "flow: f\nnodes:\n  a:\n    type: template\n    params: {template: x}\n    placement: " +
            placement + "\noutputs: {y: a.text}\n",
        "p.yaml");
    REQUIRE_FALSE(loaded);
    REQUIRE(loaded.errors.size() == 1);
    return loaded.errors[0].to_string();
  };
  CHECK_THAT(error_of("[gpu]"), Catch::Contains("p.yaml:6") &&
                                    Catch::Contains("must be a mapping like {tags: [gpu]}"));
  CHECK_THAT(error_of("{tags: []}"), Catch::Contains("one or more worker tags"));
  CHECK_THAT(error_of("{tags: gpu}"), Catch::Contains("one or more worker tags"));
  CHECK_THAT(error_of("{tags: ['a b']}"), Catch::Contains("bad tag 'a b'"));
  CHECK_THAT(error_of("{tag: [gpu]}"),
             Catch::Contains("unknown key 'tag'") && Catch::Contains("did you mean 'tags'"));
  CHECK_THAT(error_of("{}"), Catch::Contains("needs 'tags'"));
  auto ok = eng.load_string(
      "flow: f\nnodes:\n  a:\n    type: template\n    params: {template: x}\n"
      "    placement: {tags: [gpu, eu, gpu]}\noutputs: {y: a.text}\n");
  REQUIRE(ok);
}

namespace {

const char* long_flow = R"(flow: long
inputs:
  x: {type: string}
nodes:
  wait: {type: sleep, placement: {tags: [gpu]}, params: {ms: 20000}, inputs: {value: $inputs.x}}
outputs: {x: wait.value}
)";

const tracing::span_record* named(const std::vector<tracing::span_record>& spans,
                                  const std::string& name) {
  for (const auto& s : spans)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

TEST_CASE("placement: a cancelled run stops its placed node on the worker",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/long.yaml", long_flow);
  auto gpu = start_worker(dir, "gpu", "127.0.0.1:0", {"--tags", "gpu"});
  run_result r;
  {
    engine eng(timed_front(dir, {at(*gpu)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/long.yaml").string());
    REQUIRE(loaded);
    auto canceller = std::make_shared<run_canceller>();
    run_options ro;
    ro.canceller = canceller;
    auto fut = eng.run(loaded.flow, {{"x", "a"}}, ro);
    std::this_thread::sleep_for(300ms);
    canceller->cancel("cancelled: stop pressed");
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    r = fut.get();
    eng.shutdown();
  }
  CHECK_FALSE(r.ok);
  CHECK_THAT(r.error, Catch::Contains("stop pressed"));
  CHECK(gpu->stop(SIGTERM) == 0);
  // The node's span is the worker's (it ran there), ended by the stop as
  // a local node's would be: "cancelled: run failed", the run's span with
  // the reason.
  auto on_gpu = spans_in(dir, "gpu.jsonl");
  auto front = spans_in(dir, "front.jsonl");
  const auto* wait = named(on_gpu, "wait");
  REQUIRE(wait);
  CHECK(wait->status == tracing::status_code::error);
  CHECK_THAT(wait->status_message, Catch::Contains("cancelled: run failed"));
  CHECK(wait->end_unix_ns - wait->start_unix_ns < 10'000'000'000ULL);  // not its 20 s
  CHECK(named(front, "wait") == nullptr);
  const auto* run = named(front, "long");
  REQUIRE(run);
  CHECK(wait->parent == run->id);
  CHECK_THAT(run->status_message, Catch::Contains("stop pressed"));
}

TEST_CASE("placement: a placed node lost with its worker fails and the front closes its span",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/long.yaml", long_flow);
  auto gpu = start_worker(dir, "gpu", "127.0.0.1:0", {"--tags", "gpu"});
  run_result r;
  double took_ms = 0;
  {
    engine eng(timed_front(dir, {at(*gpu)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/long.yaml").string());
    REQUIRE(loaded);
    const auto t0 = std::chrono::steady_clock::now();
    auto fut = eng.run(loaded.flow, {{"x", "a"}});
    std::this_thread::sleep_for(300ms);
    gpu->stop(SIGKILL);
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    r = fut.get();
    took_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    eng.shutdown();
  }
  CHECK_FALSE(r.ok);
  CHECK(r.failed_node == "wait");
  CHECK_THAT(r.error, Catch::Contains("worker lost"));
  CHECK(took_ms < 300 + 1500 + 1000);  // within the heartbeat timeout, and some
  auto front = spans_in(dir, "front.jsonl");
  const auto* wait = named(front, "wait");
  const auto* run = named(front, "long");
  REQUIRE(wait);
  REQUIRE(run);
  CHECK(wait->parent == run->id);
  CHECK(wait->status == tracing::status_code::error);
  CHECK_THAT(wait->status_message, Catch::Contains("worker lost"));
  CHECK(wait->find("weft.worker.lost") != nullptr);
}

TEST_CASE("placement: a node for a free tagged worker does not wait behind a full worker's line",
          "[cluster][hardening]") {
  // The cpu worker runs `slow`, one run at a time; the tpu worker runs
  // only `tpu`, whose one node is placed on it.
  flow_dir cpu_dir, tpu_dir;
  cpu_dir.write("flows/slow.yaml", sleep_flow("slow", 1500));
  tpu_dir.write("flows/tpu.yaml", tpu_flow);
  auto cpu = start_worker(cpu_dir, "cpu", "127.0.0.1:0", {"--max-inflight", "1"});
  auto tpu = start_worker(tpu_dir, "tpu", "127.0.0.1:0", {"--tags", "tpu"});
  engine eng(timed_front(cpu_dir, {at(*cpu), at(*tpu)}));
  REQUIRE(eng.wait_for_workers(2, 10s));
  auto slow = eng.load_file((cpu_dir.path() / "flows/slow.yaml").string());
  auto placed = eng.load_file((tpu_dir.path() / "flows/tpu.yaml").string());
  REQUIRE(slow);
  REQUIRE(placed);
  // One slow run on the cpu worker, three waiting in the front's line.
  std::vector<std::future<run_result>> busy;
  for (int i = 0; i < 4; ++i) busy.push_back(eng.run(slow.flow, {{"x", "a"}}));
  std::this_thread::sleep_for(300ms);
  auto r = eng.run(placed.flow, {{"x", "a"}}).get();
  INFO(r.error);
  CHECK(r.ok);
  CHECK(r.outputs.at("y") == "[a]!");
  // Done before the second slow run could end (it starts when the first
  // ends, at 1.5 s, and takes 1.5 s more): so it did not wait in their line,
  // where it would have left only after the fourth, at 4.5 s.
  CHECK(busy[1].wait_for(0s) != std::future_status::ready);
  for (auto& f : busy) {
    REQUIRE(f.wait_for(30s) == std::future_status::ready);
    CHECK(f.get().ok);
  }
  eng.shutdown();
  CHECK(cpu->stop(SIGTERM) == 0);
  CHECK(tpu->stop(SIGTERM) == 0);
}

TEST_CASE("placement: an observed run sees a placed composite's events as if it ran here",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  dir.write("flows/placed.yaml", placed_flow);
  // The same flow without its placement line: the reference, run here.
  std::string local_text = placed_flow;
  const std::string line = "    placement: {tags: [gpu]}\n";
  local_text.erase(local_text.find(line), line.size());
  dir.write("local/ticket.yaml", example("ticket.yaml"));
  dir.write("local/placed.yaml", local_text);
  auto gpu = start_worker(dir, "gpu", "127.0.0.1:0", {"--tags", "gpu"});

  // What an observer sees, without ids and timings: kind, path, status.
  auto observe = [](engine& eng, const flow& f) {
    std::mutex mu;
    std::multiset<std::string> seen;
    run_options ro;
    ro.on_event = [&](const run_event& e) {
      std::string path;
      for (const auto& p : e.path) path += "/" + p;
      std::lock_guard<std::mutex> lk(mu);
      seen.insert(e.to_json()["event"].get<std::string>() + " " + path + " " + e.status);
    };
    value tickets = value::array();
    tickets.push_back(value{{"text", "db down"}, {"score", 0.9}});
    tickets.push_back(value{{"text", "typo"}, {"score", 0.1}});
    auto r = eng.run(f, {{"tickets", tickets}, {"name", "n"}}, ro).get();
    INFO(r.error);
    CHECK(r.ok);
    std::lock_guard<std::mutex> lk(mu);
    return seen;
  };
  std::multiset<std::string> here, there;
  {
    engine eng;
    auto f = eng.load_file((dir.path() / "local/placed.yaml").string());
    REQUIRE(f);
    here = observe(eng, f.flow);
  }
  {
    engine eng(timed_front(dir, {at(*gpu)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto f = eng.load_file((dir.path() / "flows/placed.yaml").string());
    REQUIRE(f);
    there = observe(eng, f.flow);
    eng.shutdown();
  }
  // The child runs' node events under the map node came back from the
  // worker: the same events, the same paths.
  CHECK(here.size() > 10);
  CHECK(there == here);
  CHECK(gpu->stop(SIGTERM) == 0);
}

TEST_CASE("placement: examples/cluster/triage_gpu.yaml runs its map on the gpu worker",
          "[cluster][hardening]") {
  flow_dir dir;
  const std::string examples = std::string(WEFT_SOURCE_DIR) + "/examples/cluster";
  worker_process gpu(
      {"--flows", examples, "--tags", "gpu", "--trace-file", (dir.path() / "gpu.jsonl").string()},
      {cluster_key});
  INFO(gpu.err());
  REQUIRE(gpu.port() != 0);
  run_result r;
  {
    engine eng(timed_front(dir, {at(gpu)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto f = eng.load_file(examples + "/triage_gpu.yaml");
    REQUIRE(f);
    value tickets = value::array();
    tickets.push_back(value{{"text", "db down"}, {"score", 0.9}});
    r = eng.run(f.flow, {{"tickets", tickets}}).get();
    eng.shutdown();
  }
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("replies") == value::array({"URGENT: db down"}));
  CHECK(r.outputs.at("title") == "triage for support");
  CHECK(gpu.stop(SIGTERM) == 0);
  CHECK(named(spans_in(dir, "gpu.jsonl"), "each") != nullptr);
  CHECK(named(spans_in(dir, "front.jsonl"), "each") == nullptr);
}
