// A front (an engine with engine_options::workers, in this process) and
// `weft worker` processes on loopback: runs spread over the workers in one
// trace each, a wrong key and another version of a flow are refused with
// errors that say so, and a worker killed mid-load loses only its own runs
// (or none, with retry_lost_runs), and is used again once it is back. A
// cancelled run stops on its worker; the worker's HTTP probe tells ready
// from draining.
// Tagged [hardening]: these run alone, since the heartbeat is timed.
#include <catch2/catch.hpp>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/cluster_workers.hpp"
#include "support/flow_dir.hpp"
#include "support/raw_http.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "weft/weft.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

const std::string slow_flow = sleep_flow("slow", 400);

// Runs `n` runs of `f`, at most `window` at once, and returns their results.
std::vector<run_result> run_many(engine& eng, const flow& f, int n, int window,
                                 const value_map& inputs) {
  std::vector<run_result> out(static_cast<std::size_t>(n));
  std::mutex mu;
  std::condition_variable cv;
  int next = 0, done = 0;
  std::function<void()> start_one = [&] {
    int i;
    {
      std::lock_guard<std::mutex> lk(mu);
      if (next >= n) return;
      i = next++;
    }
    run_options ro;
    ro.session_id = "s-" + std::to_string(i);
    ro.user_id = "u";
    eng.run(f, inputs, ro, [&, i](run_result r) {
      // Everything under the lock, the next start only while runs remain:
      // once the last one is counted, this frame is gone (and its locals).
      bool more;
      {
        std::lock_guard<std::mutex> lk(mu);
        out[static_cast<std::size_t>(i)] = std::move(r);
        ++done;
        more = next < n;
        cv.notify_all();
      }
      if (more) start_one();
    });
  };
  for (int k = 0; k < window; ++k) start_one();
  std::unique_lock<std::mutex> lk(mu);
  cv.wait_for(lk, 120s, [&] { return done == n; });
  REQUIRE(done == n);
  return out;
}

}  // namespace

TEST_CASE("cluster: 3000 runs over 3 workers make one clean trace each across their files",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  std::vector<std::unique_ptr<worker_process>> workers;
  for (int i = 0; i < 3; ++i) workers.push_back(start_worker(dir, "w" + std::to_string(i)));
  std::vector<std::string> addrs;
  for (auto& w : workers) addrs.push_back(at(*w));

  std::vector<run_result> results;
  {
    engine eng(timed_front(dir, addrs));
    REQUIRE(eng.wait_for_workers(0, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/ticket.yaml").string());
    REQUIRE(loaded);
    value_map in{{"item", value{{"text", "db down"}, {"score", 0.9}}}};
    results = run_many(eng, loaded.flow, 3000, 300, in);
    eng.shutdown();
  }
  std::set<std::string> took_part;
  std::vector<tracing::audit_expectation> expect;
  int ok = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (!r.ok) {
      INFO(r.error);
      CHECK(r.ok);
      continue;
    }
    ++ok;
    CHECK(r.outputs.at("reply") == "URGENT: db down");
    took_part.insert(r.worker);
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(r.trace_id);
    e.run_id = r.run_id;
    e.session_id = "s-" + std::to_string(i);
    e.user_id = "u";
    expect.push_back(std::move(e));
  }
  CHECK(ok == 3000);
  CHECK(took_part == std::set<std::string>{"w0", "w1", "w2"});
  // SIGTERM: each worker finishes and flushes its spans before it exits.
  for (auto& w : workers) CHECK(w->stop(SIGTERM) == 0);
  // The front ran nothing itself: its file holds one dispatch span per
  // run, the root of the run's trace, which names the worker.
  std::vector<tracing::span_record> spans;
  tracing::read_otlp_json_file((dir.path() / "front.jsonl").string(), spans);
  CHECK(spans.size() == 3000);
  std::set<std::string> roots;
  for (const auto& r : results) roots.insert(r.root_span_id);
  for (const auto& s : spans) {
    CHECK(s.name == "dispatch ticket");
    CHECK(s.status == tracing::status_code::ok);
    CHECK(s.find("weft.worker") != nullptr);
    CHECK(roots.count(s.id.to_hex()) == 1);
  }
  for (int i = 0; i < 3; ++i)
    tracing::read_otlp_json_file((dir.path() / ("w" + std::to_string(i) + ".jsonl")).string(),
                                 spans);
  auto report = tracing::audit_traces(spans, expect);
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok());
  CHECK(report.traces == 3000);
}

TEST_CASE("cluster: a run joins the caller's trace under the caller's span",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  auto w = start_worker(dir, "w0");
  run_result r;
  {
    engine eng(timed_front(dir, {at(*w)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/ticket.yaml").string());
    run_options ro;
    ro.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    ro.tracestate = "vendor=abc";
    ro.session_id = "s";
    ro.user_id = "u";
    r = eng.run(loaded.flow, {{"item", value{{"text", "t"}, {"score", 0.1}}}}, ro).get();
    eng.shutdown();
  }
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.worker == "w0");
  CHECK(r.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(w->stop(SIGTERM) == 0);
  std::vector<tracing::span_record> spans;
  tracing::read_otlp_json_file((dir.path() / "front.jsonl").string(), spans);
  // The front's dispatch span is the one under the caller's span.
  REQUIRE(spans.size() == 1);
  CHECK(spans[0].parent.to_hex() == "00f067aa0ba902b7");
  CHECK(spans[0].id.to_hex() == r.root_span_id);
  CHECK(spans[0].trace_state == "vendor=abc");
  tracing::read_otlp_json_file((dir.path() / "w0.jsonl").string(), spans);
  tracing::audit_expectation e;
  e.trace = *tracing::trace_id::from_hex(r.trace_id);
  e.remote_parent = *tracing::span_id::from_hex("00f067aa0ba902b7");
  e.run_id = r.run_id;
  e.session_id = "s";
  e.user_id = "u";
  auto report = tracing::audit_traces(spans, {e});
  INFO((report.problems.empty() ? std::string() : report.problems.front()));
  CHECK(report.ok());
  CHECK(report.spans >= 4);
}

TEST_CASE(
    "cluster: a wrong key is refused and another version of a flow is named and no worker falls "
    "back",
    "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  auto w = start_worker(dir, "w0");
  value_map in{{"item", value{{"text", "t"}, {"score", 0.1}}}};

  SECTION("a wrong key") {
    auto o = timed_front(dir, {at(*w)});
    o.cluster_key = "not-the-key";
    engine eng(o);
    CHECK_FALSE(eng.wait_for_workers(1, 1500ms));
    auto loaded = eng.load_file((dir.path() / "flows/ticket.yaml").string());
    auto r = eng.run(loaded.flow, in).get();
    CHECK_FALSE(r.ok);
    CHECK(r.no_worker);
    CHECK_THAT(r.error, Catch::Contains("refused the cluster key"));
    eng.shutdown();
    CHECK_THAT(w->err(), Catch::Contains("wrong cluster key"));
  }
  SECTION("another version of the flow") {
    engine eng(timed_front(dir, {at(*w)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto other = dir.write("front/ticket.yaml", example("ticket.yaml") + "# edited\n");
    auto loaded = eng.load_file(other);
    REQUIRE(loaded);
    auto r = eng.run(loaded.flow, in).get();
    CHECK_FALSE(r.ok);
    CHECK(r.no_worker);
    CHECK_THAT(r.error, Catch::Contains("flow 'ticket' differs between this front"));
    CHECK_THAT(r.error, Catch::Contains(loaded.flow.content_hash()));
    eng.shutdown();
  }
  SECTION("no worker reachable: local fallback, or a clear error") {
    auto o = timed_front(dir, {"127.0.0.1:1"});
    o.local_fallback = true;
    {
      engine eng(o);
      auto loaded = eng.load_file((dir.path() / "flows/ticket.yaml").string());
      auto r = eng.run(loaded.flow, in).get();
      CHECK(r.ok);
      CHECK(r.worker.empty());
      eng.shutdown();
    }
    o.local_fallback = false;
    engine eng(o);
    auto loaded = eng.load_file((dir.path() / "flows/ticket.yaml").string());
    auto r = eng.run(loaded.flow, in).get();
    CHECK_FALSE(r.ok);
    CHECK(r.no_worker);
    CHECK_THAT(r.error, Catch::Contains("no worker reachable (127.0.0.1:1"));
    eng.shutdown();
  }
  CHECK(w->stop(SIGTERM) == 0);
}

TEST_CASE(
    "cluster: a worker killed mid-load loses only its runs and retries save them and it comes back",
    "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/slow.yaml", slow_flow);
  auto w0 = start_worker(dir, "w0");
  auto w1 = start_worker(dir, "w1");
  const std::string a0 = at(*w0), a1 = at(*w1);
  value_map in{{"x", "hi"}};

  for (bool retry : {false, true}) {
    DYNAMIC_SECTION("retry_lost_runs " << retry) {
      auto o = timed_front(dir, {a0, a1});
      o.retry_lost_runs = retry;
      engine eng(o);
      REQUIRE(eng.wait_for_workers(2, 10s));
      auto loaded = eng.load_file((dir.path() / "flows/slow.yaml").string());
      std::vector<std::future<run_result>> futs;
      for (int i = 0; i < 40; ++i) futs.push_back(eng.run(loaded.flow, in));
      std::this_thread::sleep_for(100ms);
      const auto killed = std::chrono::steady_clock::now();
      w0->stop(SIGKILL);
      int ok = 0, lost = 0, retried = 0;
      std::set<std::string> lost_roots;
      for (auto& f : futs) {
        auto r = f.get();
        if (r.ok) {
          ++ok;
          if (r.warning.find("retried after worker lost: " + a0) != std::string::npos) {
            CHECK(r.worker == "w1");
            ++retried;
          }
        } else {
          INFO(r.error);
          CHECK(r.worker_lost);
          CHECK_THAT(r.error, Catch::Contains("worker lost: " + a0));
          lost_roots.insert(r.root_span_id);
          ++lost;
        }
      }
      // Within the heartbeat timeout (1.5 s) plus the runs' own 400 ms.
      CHECK(std::chrono::steady_clock::now() - killed < 2500ms);
      if (retry) {
        CHECK(ok == 40);
        CHECK(retried > 0);  // those that were on w0, and said so
      } else {
        CHECK(lost > 0);  // half the runs were on w0
        CHECK(ok > 0);    // and w1's were not touched
        CHECK(ok + lost == 40);
      }
      // The same address again: the front connects by itself.
      w0 = start_worker(dir, "w0", a0);
      CHECK(eng.wait_for_workers(2, 10s));
      auto r = eng.run(loaded.flow, in).get();
      CHECK(r.ok);
      eng.shutdown();
      // What the trace keeps of a lost run: the front's span, closed with
      // the error, although the worker's spans died with it.
      std::vector<tracing::span_record> spans;
      tracing::read_otlp_json_file((dir.path() / "front.jsonl").string(), spans);
      std::size_t closed_with_error = 0;
      for (const auto& s : spans)
        if (lost_roots.count(s.id.to_hex()) != 0) {
          CHECK(s.status == tracing::status_code::error);
          CHECK_THAT(s.status_message, Catch::Contains("worker lost: " + a0));
          ++closed_with_error;
        }
      CHECK(closed_with_error == lost_roots.size());
    }
  }
  w0->stop(SIGTERM);
  w1->stop(SIGTERM);
}

TEST_CASE("cluster: cancelling a dispatched run stops it on its worker", "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/long.yaml", sleep_flow("long", 20000));
  auto w = start_worker(dir, "w0");
  run_result r;
  double took_ms = 0;
  {
    engine eng(timed_front(dir, {at(*w)}));
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto loaded = eng.load_file((dir.path() / "flows/long.yaml").string());
    REQUIRE(loaded);
    auto canceller = std::make_shared<run_canceller>();
    run_options ro;
    ro.canceller = canceller;
    const auto t0 = std::chrono::steady_clock::now();
    auto fut = eng.run(loaded.flow, {{"x", "a"}}, ro);
    std::this_thread::sleep_for(300ms);
    canceller->cancel("cancelled: the client went away");
    REQUIRE(fut.wait_for(10s) == std::future_status::ready);
    r = fut.get();
    took_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    eng.shutdown();
  }
  CHECK_FALSE(r.ok);
  CHECK(r.worker == "w0");  // it was stopped there, not given up on here
  CHECK_THAT(r.error, Catch::Contains("cancelled: the client went away"));
  CHECK(took_ms < 10000);
  CHECK(w->stop(SIGTERM) == 0);
  // The worker's run span ends with the reason.
  std::vector<tracing::span_record> spans;
  tracing::read_otlp_json_file((dir.path() / "w0.jsonl").string(), spans);
  bool run_span = false;
  for (const auto& s : spans)
    if (s.name == "long") {
      run_span = true;
      CHECK(s.status == tracing::status_code::error);
      CHECK_THAT(s.status_message, Catch::Contains("the client went away"));
    }
  CHECK(run_span);
}

TEST_CASE("cluster: the worker's HTTP probe tells ready from draining and reports its load",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/long.yaml", sleep_flow("long", 2500));
  auto w = start_worker(dir, "w0", "127.0.0.1:0",
                        {"--tags", "gpu", "--max-inflight", "7", "--probe", "127.0.0.1:0"});
  const std::string marker = "probe on http://127.0.0.1:";
  const auto out = w->out();
  const auto at_marker = out.find(marker);
  REQUIRE(at_marker != std::string::npos);
  const auto probe = static_cast<std::uint16_t>(std::atoi(out.c_str() + at_marker + marker.size()));
  REQUIRE(probe != 0);

  auto ready = http_exchange(probe, get_request("/readyz"));
  REQUIRE(ready);
  CHECK(ready->status == 200);
  auto body = nlohmann::json::parse(ready->body);
  CHECK(body["ready"] == true);
  CHECK(body["name"] == "w0");
  CHECK(body["tags"] == nlohmann::json::array({"gpu"}));
  CHECK(body["flows"] == 1);
  CHECK(body["max_in_flight"] == 7);
  CHECK(body["in_flight"] == 0);
  auto health = http_exchange(probe, get_request("/healthz"));
  REQUIRE(health);
  CHECK(health->status == 200);
  auto missing = http_exchange(probe, get_request("/nope"));
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto post = http_exchange(probe, json_post("/readyz", "{}"));
  REQUIRE(post);
  CHECK(post->status == 405);

  // With a run in flight, SIGTERM drains: the probe says 503 and the load.
  engine eng(timed_front(dir, {at(*w)}));
  REQUIRE(eng.wait_for_workers(1, 10s));
  auto loaded = eng.load_file((dir.path() / "flows/long.yaml").string());
  REQUIRE(loaded);
  auto fut = eng.run(loaded.flow, {{"x", "a"}});
  bool busy = false;
  for (int i = 0; i < 100 && !busy; ++i) {
    auto r = http_exchange(probe, get_request("/readyz"));
    busy = r && nlohmann::json::parse(r->body)["in_flight"] == 1;
    if (!busy) std::this_thread::sleep_for(20ms);
  }
  CHECK(busy);
  kill(w->pid(), SIGTERM);
  int draining = 0;
  for (int i = 0; i < 100 && draining == 0; ++i) {
    auto r = http_exchange(probe, get_request("/readyz"));
    if (r && r->status == 503) {
      draining = r->status;
      CHECK(nlohmann::json::parse(r->body)["ready"] == false);
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(draining == 503);
  auto r = fut.get();  // the drain lets it finish
  INFO(r.error);
  CHECK(r.ok);
  CHECK(w->wait() == 0);
  eng.shutdown();
}

TEST_CASE("cluster: an observed run streams its events back from its worker in order",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  dir.write("flows/long.yaml", R"(flow: long
inputs:
  x: {type: string}
nodes:
  first: {type: passthrough, inputs: {value: $inputs.x}}
  wait: {type: sleep, params: {ms: 20000}, inputs: {value: first.value}}
outputs: {x: wait.value}
)");
  auto w = start_worker(dir, "w0");
  engine eng(timed_front(dir, {at(*w)}));
  REQUIRE(eng.wait_for_workers(1, 10s));

  // Events are delivered on one thread at a time, before the result.
  std::mutex mu;
  std::vector<run_event> events;
  run_options ro;
  ro.on_event = [&](const run_event& e) {
    std::lock_guard<std::mutex> lk(mu);
    events.push_back(e);
  };
  auto ticket = eng.load_file((dir.path() / "flows/ticket.yaml").string());
  REQUIRE(ticket);
  auto r = eng.run(ticket.flow, {{"item", value{{"text", "db down"}, {"score", 0.9}}}}, ro).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.worker == "w0");  // it ran there, observer and all
  {
    std::lock_guard<std::mutex> lk(mu);
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().type == run_event::kind::run_finished);
    CHECK(events.back().status == "ok");
    CHECK(events.back().outputs.at("reply") == "URGENT: db down");
    std::vector<std::string> started, finished;
    for (const auto& e : events) {
      if (e.type == run_event::kind::node_started) {
        started.push_back(e.node);
        CHECK(e.span_id.size() == 16);
      }
      if (e.type == run_event::kind::node_finished && e.status == "ok") finished.push_back(e.node);
    }
    // Each node starts before it finishes, and the route before the rest.
    REQUIRE(started.size() == 3);
    CHECK(started.front() == "route");
    CHECK(std::set<std::string>(finished.begin(), finished.end()) ==
          std::set<std::string>{"route", "escalate", "reply"});
    events.clear();
  }

  // The worker dies mid-run: the stream still ends, with the error.
  auto long_flow = eng.load_file((dir.path() / "flows/long.yaml").string());
  REQUIRE(long_flow);
  auto fut = eng.run(long_flow.flow, {{"x", "a"}}, ro);
  bool started = false;
  for (int i = 0; i < 200 && !started; ++i) {
    {
      std::lock_guard<std::mutex> lk(mu);
      for (const auto& e : events)
        if (e.type == run_event::kind::node_started && e.node == "wait") started = true;
    }
    if (!started) std::this_thread::sleep_for(10ms);
  }
  REQUIRE(started);  // events of a run still going arrive as they happen
  w->stop(SIGKILL);
  REQUIRE(fut.wait_for(10s) == std::future_status::ready);
  auto lost = fut.get();
  CHECK_FALSE(lost.ok);
  CHECK(lost.worker_lost);
  {
    std::lock_guard<std::mutex> lk(mu);
    REQUIRE_FALSE(events.empty());
    CHECK(events.back().type == run_event::kind::run_finished);
    CHECK(events.back().status == "error");
    CHECK_THAT(events.back().error, Catch::Contains("worker lost"));
  }
  eng.shutdown();
}

TEST_CASE("cluster: weft serve --workers streams a run that ran on a worker as SSE",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  auto w = start_worker(dir, "w0");
  serve_process srv({"--flows", (dir.path() / "flows").string(), "--workers", at(*w),
                     "--no-local-fallback", "--trace-file", (dir.path() / "front.jsonl").string()},
                    {cluster_key});
  INFO(srv.err());
  REQUIRE(srv.port() != 0);
  raw_conn c(srv.port());
  REQUIRE(c.send(json_post("/v1/flows/ticket/runs",
                           R"({"inputs": {"item": {"text": "db down", "score": 0.9}}})",
                           "Accept: text/event-stream\r\n")));
  auto r = c.read_response(10s);
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->header("content-type") == "text/event-stream");
  // The worker's events, in order, as the stream's events.
  std::vector<std::string> kinds;
  std::istringstream lines(r->body);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("event: ", 0) == 0) kinds.push_back(line.substr(7));
  REQUIRE_FALSE(kinds.empty());
  CHECK(kinds.front() == "node_started");
  CHECK(kinds.back() == "run_finished");
  CHECK(std::count(kinds.begin(), kinds.end(), "node_started") == 3);
  CHECK_THAT(r->body, Catch::Contains("URGENT: db down"));
  CHECK(srv.stop(SIGTERM) == 0);
  CHECK(w->stop(SIGTERM) == 0);
  // It ran on the worker: the run span is in its file, the dispatch span
  // in the front's.
  std::vector<tracing::span_record> front, worker;
  tracing::read_otlp_json_file((dir.path() / "front.jsonl").string(), front);
  tracing::read_otlp_json_file((dir.path() / "w0.jsonl").string(), worker);
  REQUIRE(front.size() == 1);
  CHECK(front[0].name == "dispatch ticket");
  bool run_span = false;
  for (const auto& s : worker)
    if (s.name == "ticket") run_span = s.parent == front[0].id;
  CHECK(run_span);
}
