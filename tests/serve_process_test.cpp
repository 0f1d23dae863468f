// `weft serve` as a real process: start-up errors, and SIGTERM in the middle
// of a load — every request in flight is answered, every span of every
// completed run is in the trace file, and the exit code is 0.
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>

#include "support/proc_status.hpp"
#include "support/prometheus_text.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"
#include "support/serve_process.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

fs::path flows_dir(const std::string& name, const std::vector<std::string>& texts) {
  auto dir = fs::temp_directory_path() / ("weft-serve-" + std::to_string(getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  int i = 0;
  for (auto& t : texts) std::ofstream(dir / ("flow" + std::to_string(i++) + ".yaml")) << t;
  return dir;
}

double inflight(std::uint16_t port) {
  auto r = http_exchange(port, get_request("/metrics"));
  if (!r || r->status != 200) return -1;
  auto p = prometheus::parse(r->body);
  if (!p) return -1;
  return prometheus::sample_value(p.doc, "weft_runs_inflight", {});
}

}  // namespace

TEST_CASE("weft serve refuses to start on a bad flow, naming file and line", "[serve][process]") {
  auto dir = flows_dir(
      "bad",
      {serve_flows[0], "flow: broken\nnodes:\n  a: {type: nosuch}\noutputs: {y: a.value}\n"});
  serve_process srv({"--flows", dir.string()});
  CHECK(srv.port() == 0);
  CHECK(srv.wait() == 2);
  auto err = srv.err();
  INFO(err);
  CHECK(err.find("flow1.yaml:3:") != std::string::npos);
  CHECK(err.find("nosuch") != std::string::npos);
  CHECK(err.find("not serving") != std::string::npos);
}

TEST_CASE("weft serve names the address when it cannot listen", "[serve][process]") {
  auto dir = flows_dir("ok", {serve_flows[0]});
  serve_process first({"--flows", dir.string()});
  REQUIRE(first.port());
  serve_process second(
      {"--flows", dir.string(), "--listen", "127.0.0.1:" + std::to_string(first.port())});
  CHECK(second.port() == 0);
  CHECK(second.wait() == 2);
  CHECK(second.err().find("cannot listen on 127.0.0.1:" + std::to_string(first.port())) !=
        std::string::npos);
  CHECK(first.stop(SIGTERM) == 0);
}

TEST_CASE("SIGTERM during load: in-flight requests answered, spans in the file, exit 0",
          "[serve][process]") {
  raise_fd_limit();
  auto dir = flows_dir("drain", {serve_flows[0], serve_flows[2]});  // echo, slow (300 ms)
  auto trace_file = dir / "traces.jsonl";
  serve_process srv({"--flows", dir.string(), "--trace-file", trace_file.string()});
  REQUIRE(srv.port());

  constexpr int n = 60;
  std::vector<std::unique_ptr<raw_conn>> conns;
  std::vector<std::string> traces, parents;
  for (int i = 0; i < n; ++i) {
    conns.push_back(std::make_unique<raw_conn>(srv.port()));
    REQUIRE(conns.back()->ok());
    traces.push_back(tracing::trace_id::random().to_hex());
    parents.push_back(tracing::span_id::random().to_hex());
    auto body = R"({"session_id": "s-)" + std::to_string(i) + R"(", "user_id": "u-)" +
                std::to_string(i) + "\"}";
    REQUIRE(conns.back()->send(
        json_post("/v1/flows/slow/runs", body,
                  "traceparent: 00-" + traces.back() + "-" + parents.back() + "-01\r\n")));
  }
  // All runs started; then the signal comes in the middle of them.
  auto until = std::chrono::steady_clock::now() + 5s;
  while (inflight(srv.port()) < n && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(5ms);
  REQUIRE(inflight(srv.port()) == n);
  kill(srv.pid(), SIGTERM);

  std::vector<tracing::audit_expectation> expect;
  for (int i = 0; i < n; ++i) {
    auto r = conns[static_cast<std::size_t>(i)]->read_response(20s);
    REQUIRE(r);
    CHECK(r->status == 200);
    // Runs that finished before the drain began may answer keep-alive; either
    // way the server closes every connection on its way out.
    tracing::audit_expectation e;
    e.trace = *tracing::trace_id::from_hex(traces[static_cast<std::size_t>(i)]);
    e.remote_parent = *tracing::span_id::from_hex(parents[static_cast<std::size_t>(i)]);
    e.session_id = "s-" + std::to_string(i);
    e.user_id = "u-" + std::to_string(i);
    e.expected_spans = 2;
    expect.push_back(e);
  }
  CHECK(srv.wait() == 0);
  INFO(srv.err());
  CHECK(srv.err().find("draining") != std::string::npos);

  // After exit, the file holds every span of every run.
  std::vector<tracing::span_record> spans;
  auto summary = tracing::read_otlp_json_file(trace_file.string(), spans);
  REQUIRE(summary.open_error.empty());
  auto report = tracing::audit_traces(spans, expect);
  for (auto& p : report.problems) UNSCOPED_INFO(p);
  CHECK(report.ok());
  CHECK(report.traces == static_cast<std::size_t>(n));
  CHECK(report.spans == static_cast<std::size_t>(2 * n));

  // Nobody listens any more.
  raw_conn late(srv.port());
  CHECK(!late.ok());
}

TEST_CASE("weft serve memory stays flat as connections come and go", "[serve][process]") {
  // Each closed connection's broker must be freed, not merely stopped: a
  // timer per connection once kept every one alive (~2.3 KiB each).
  auto dir = flows_dir("churn", {serve_flows[0]});
  serve_process srv({"--flows", dir.string(), "--trace-file", (dir / "t.jsonl").string()});
  REQUIRE(srv.port());
  auto rss = [&] { return rss_kib(srv.pid()); };
  auto churn = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto r = http_exchange(srv.port(), get_request("/healthz"));
      REQUIRE(r);
    }
  };
  churn(2000);  // warm-up: allocator caches, the first pages of every pool
  auto before = rss();
  churn(6000);
  auto after = rss();
  INFO("RSS " << before << " KiB -> " << after << " KiB over 6000 connections");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // A sanitizer's quarantine holds freed memory, so RSS says nothing here;
  // ASan's leak check at exit covers the same ground.
  WARN("RSS growth not checked under a sanitizer");
#else
  CHECK(after - before < 4096);  // a leak of one broker per connection is ~14 MiB here
#endif
  CHECK(srv.stop(SIGTERM) == 0);
}
