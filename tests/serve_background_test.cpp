// Background runs of weft serve over loopback: 202 with an id, the status
// as the run goes and after, the events replayed then followed live,
// Last-Event-ID, cancel with DELETE, and retention: the history bound and
// memory flat over 20,000 runs.
#include <catch2/catch.hpp>

#include <unistd.h>

#include "components/llm_sse.hpp"
#include "support/lambda_component.hpp"
#include "support/proc_status.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

// `ticker` emits value.n chunks value.ms apart, then completes. Each timer
// owns the next step by value. It once kept the step in a shared_ptr that
// the step itself captured: a reference cycle that outlived every run and,
// through the node context the step holds, kept ~3 KB per run (the node
// actor's memory, pinned by the context's weak handle to it, the run's
// shared state and the context itself), which looked like a server leak.
struct tick_step {
  std::shared_ptr<node_context> c;
  int i, n, ms;
  void operator()() const {
    if (i == n) return c->complete({{"value", n}});
    c->emit("tick " + std::to_string(i));
    c->after(std::chrono::milliseconds(ms), tick_step{c, i + 1, n, ms});
  }
};

void add_ticker(engine& eng) {
  add_type(eng, "ticker", [](node_context& ctx, value_map in) {
    auto v = in["value"];
    const int ms = v.value("ms", 0);
    ctx.after(std::chrono::milliseconds(ms),
              tick_step{ctx.shared_from_this(), 0, v.value("n", 3), ms});
  });
}

const std::vector<std::string> ticker_flows = {
    "flow: ticks\ninputs: {x: {type: object}}\nnodes:\n  t: {type: ticker, inputs: {value: "
    "$inputs.x}}\n"
    "outputs: {count: t.value}\n"};

value json_of(const raw_response& r) { return value::parse(r.body, nullptr, false); }

std::string start(serve_fixture& f, const std::string& inputs) {
  auto r = http_exchange(f.port(), json_post("/v1/flows/ticks/runs",
                                             R"({"background": true, "inputs": )" + inputs + "}"));
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 202);
  auto b = json_of(*r);
  CHECK(b["status_url"] == "/v1/runs/" + b["run_id"].get<std::string>());
  return b["run_id"].get<std::string>();
}

value status_of(serve_fixture& f, const std::string& id) {
  auto r = http_exchange(f.port(), get_request("/v1/runs/" + id));
  REQUIRE(r);
  return r->status == 200 ? json_of(*r) : value{{"http", r->status}};
}

value wait_status(serve_fixture& f, const std::string& id, const std::string& want) {
  value s;
  for (int i = 0; i < 500; ++i) {
    s = status_of(f, id);
    if (s.value("status", "") == want) return s;
    std::this_thread::sleep_for(10ms);
  }
  return s;
}

std::vector<components::sse_event> events_of(const std::string& body) {
  components::sse_parser p;
  std::vector<components::sse_event> out;
  p.feed(body, [&](const components::sse_event& e) {
    out.push_back(e);
    return true;
  });
  return out;
}

}  // namespace

TEST_CASE("background runs: 202, status while running and after, outputs", "[serve][background]") {
  serve_fixture f({}, {}, add_ticker, ticker_flows);
  auto id = start(f, R"({"x": {"n": 5, "ms": 60}})");
  auto s = status_of(f, id);
  CHECK(s["run_id"] == id);
  CHECK(s["flow"] == "ticks");
  CHECK(s["status"] == "running");
  CHECK(s["created_at"].is_number_integer());
  s = wait_status(f, id, "succeeded");
  REQUIRE(s["status"] == "succeeded");
  CHECK(s["outputs"]["count"] == 5);
  CHECK(s["trace_id"].get<std::string>().size() == 32);
  CHECK(s["duration_ms"].get<double>() > 250);
  CHECK(s["events"] == 8);  // started, 5 chunks, finished, run_finished
  CHECK(s["events_truncated"] == false);
  auto unknown = http_exchange(f.port(), get_request("/v1/runs/nope"));
  REQUIRE(unknown);
  CHECK(unknown->status == 404);
}

TEST_CASE("background runs: events replayed then followed live, and Last-Event-ID",
          "[serve][background][sse]") {
  serve_fixture f({}, {}, add_ticker, ticker_flows);
  auto id = start(f, R"({"x": {"n": 6, "ms": 80}})");
  std::this_thread::sleep_for(200ms);  // some events are history by now
  raw_conn c(f.port());
  REQUIRE(c.send(get_request("/v1/runs/" + id + "/events")));
  auto r = c.read_response(10s);
  REQUIRE(r);
  CHECK(r->header("content-type") == "text/event-stream");
  auto all = events_of(r->body);
  REQUIRE(all.size() == 9);
  for (std::size_t i = 0; i < all.size(); ++i) CHECK(all[i].id == std::to_string(i + 1));
  CHECK(all.back().type == "run_finished");
  CHECK(value::parse(all.back().data)["outputs"]["count"] == 6);
  // Resuming after event 4 gives 5.. only.
  auto resumed =
      http_exchange(f.port(), get_request("/v1/runs/" + id + "/events", "Last-Event-ID: 4\r\n"));
  REQUIRE(resumed);
  auto rest = events_of(resumed->body);
  REQUIRE(rest.size() == 5);
  CHECK(rest.front().id == "5");
  CHECK(rest.front().data == all[4].data);
}

TEST_CASE("background runs: DELETE cancels, and the status says so", "[serve][background]") {
  serve_fixture f({}, {}, add_ticker, ticker_flows);
  auto id = start(f, R"({"x": {"n": 100, "ms": 50}})");
  std::this_thread::sleep_for(100ms);
  raw_conn c(f.port());
  REQUIRE(c.send("DELETE /v1/runs/" + id + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = c.read_response();
  REQUIRE(r);
  CHECK(r->status == 202);
  auto s = wait_status(f, id, "cancelled");
  CHECK(s["status"] == "cancelled");
  CHECK_THAT(s["error"].get<std::string>(), Catch::Contains("DELETE"));
  CHECK(f.svc->runs_in_flight() == 0);
}

TEST_CASE("background runs: the history bound, and retention adds no memory over plain runs",
          "[serve][background]") {
  serve::service_config sc;
  sc.background.history = 100;
  serve_fixture f(sc, {}, add_ticker, ticker_flows);
  {
    std::lock_guard<std::mutex> lk(f.store->mu);
    f.store->keep = false;  // the test's own span store would grow by 80 MB
  }
  raw_conn c(f.port());
  std::vector<std::string> first;
  // Batches of 20, pipelined on one connection, each finished before the
  // next: never 100 background runs going at once (a start would then be
  // refused with 503, the history holding only runs still going).
  auto run_batch = [&](bool background, std::vector<std::string>* ids) {
    std::string batch;
    for (int i = 0; i < 20; ++i)
      batch += json_post("/v1/flows/ticks/runs",
                         background ? R"({"background": true, "inputs": {"x": {"n": 2}}})"
                                    : R"({"inputs": {"x": {"n": 2}}})");
    REQUIRE(c.send(batch));
    for (int i = 0; i < 20; ++i) {
      auto r = c.read_response(10s);
      REQUIRE(r);
      REQUIRE(r->status == (background ? 202 : 200));
      if (ids) ids->push_back(json_of(*r)["run_id"].get<std::string>());
    }
    while (f.svc->runs_in_flight() > 0) std::this_thread::sleep_for(1ms);
  };
  run_batch(true, &first);
  for (int k = 0; k < 20; ++k) run_batch(k % 2 == 0, nullptr);  // warm up, history full
  // Side by side: 10,000 plain runs, then 10,000 background runs.
  const long before = rss_kib(getpid());
  for (int k = 0; k < 500; ++k) run_batch(false, nullptr);
  const long mid = rss_kib(getpid());
  for (int k = 0; k < 500; ++k) run_batch(true, nullptr);
  const long after = rss_kib(getpid());
  WARN("RSS: " << before << " KiB, after 10,000 plain runs " << mid
               << " KiB, after 10,000 background runs " << after << " KiB");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's quarantine holds freed memory, so RSS says nothing here.
  WARN("RSS growth not checked under a sanitizer");
#else
  // Neither kind of run leaves anything behind: measured +0.1 to +1.1 MiB
  // per 10,000 (glibc's arenas settling). The ticker's old reference cycle
  // (see tick_step) grew each half by ~30 MiB, and keeping every background
  // record (history 100000 here) grows the second half by ~15 MiB.
  CHECK(mid - before < 4 * 1024);
  CHECK(after - mid < 4 * 1024);
#endif
  // The first runs were let go: only the newest 100 are kept.
  CHECK(status_of(f, first.front()).value("http", 0) == 404);
  auto m = http_exchange(f.port(), get_request("/metrics"));
  REQUIRE(m);
  CHECK_THAT(m->body, Catch::Contains("weft_background_runs{status=\"succeeded\"} 100"));
}
