// A mixed crowd against `weft serve` as a real process: slow readers,
// half-closers, pipeliners and ordinary clients at once. The ordinary ones
// must stay quick, memory must stay flat, and every run the server executed
// must have reached its client or be counted as dropped.
//
// WEFT_SOAK_SECONDS sets the length (default 5, at most 60). `make test`
// runs the short version; `ctest -L long` runs the 60 s one (CMakeLists.txt).
#include <signal.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "support/proc_status.hpp"
#include "support/prometheus_text.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"
#include "support/serve_process.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

int soak_seconds() {
  const char* s = std::getenv("WEFT_SOAK_SECONDS");
  int n = s ? std::atoi(s) : 5;
  return std::clamp(n, 1, 60);
}

std::string echo(int i, std::size_t pad = 0) {
  return json_post("/v1/flows/echo/runs",
                   R"({"inputs": {"x": ")" + std::to_string(i) + std::string(pad, 'p') + R"("}})");
}

}  // namespace

TEST_CASE("soak: slow readers, half-closers and pipeliners do not hurt ordinary clients",
          "[serve][process][soak]") {
  raise_fd_limit();
  auto dir = fs::temp_directory_path() / ("weft-soak-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "echo.yaml") << serve_flows[0];
  serve_process srv({"--flows", dir.string(), "--trace-file", (dir / "t.jsonl").string(),
                     "--idle-timeout-ms", "3000"});
  REQUIRE(srv.port());
  const auto port = srv.port();
  const auto length = std::chrono::seconds(soak_seconds());

  std::atomic<bool> stop{false};
  std::atomic<long> run_answers{0};  // 200s from the run route, over every client
  std::atomic<long> failures{0};     // a request that got no answer, or a wrong one
  std::mutex mu;
  std::vector<double> normal_ms;
  std::vector<std::thread> clients;

  // Ordinary clients: one request at a time on a keep-alive connection.
  for (int t = 0; t < 4; ++t)
    clients.emplace_back([&, t] {
      raw_conn c(port);
      for (int i = 0; !stop; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        if (!c.send(echo(t * 1000000 + i))) break;
        auto r = c.read_response(10s);
        auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                      .count();
        if (!r || r->status != 200) {
          ++failures;
          break;
        }
        ++run_answers;
        std::lock_guard<std::mutex> lk(mu);
        normal_ms.push_back(ms);
      }
    });
  // Slow readers: 4 KiB windows, 400 KB of answers read a few KiB at a time.
  for (int t = 0; t < 2; ++t)
    clients.emplace_back([&] {
      while (!stop) {
        raw_conn c(port, 4096);
        std::string burst;
        for (int i = 0; i < 4; ++i) burst += echo(i, 100 * 1000);
        if (!c.send(burst)) break;
        for (int i = 0; i < 4; ++i) {
          std::this_thread::sleep_for(20ms);
          auto r = c.read_response(10s);
          if (!r || r->status != 200) {
            ++failures;
            return;
          }
          ++run_answers;
        }
      }
    });
  // Half-closers: the request, then FIN, then the answer.
  for (int t = 0; t < 2; ++t)
    clients.emplace_back([&] {
      for (int i = 0; !stop; ++i) {
        raw_conn c(port);
        if (!c.send(echo(i))) break;
        c.shutdown_write();
        auto r = c.read_response(10s);
        if (!r || r->status != 200) {
          ++failures;
          return;
        }
        ++run_answers;
      }
    });
  // Pipeliners: 200 requests in one write, then every answer in order.
  clients.emplace_back([&] {
    while (!stop) {
      raw_conn c(port);
      std::string burst;
      for (int i = 0; i < 200; ++i) burst += (i % 2 ? echo(i) : get_request("/v1/flows"));
      std::thread w([&] { c.send(burst); });
      for (int i = 0; i < 200; ++i) {
        auto r = c.read_response(10s);
        if (!r || r->status != 200) {
          ++failures;
          break;
        }
        if (i % 2) ++run_answers;
      }
      w.join();
    }
  });

  std::this_thread::sleep_for(length / 4);
  auto rss_early = rss_kib(srv.pid());
  std::this_thread::sleep_for(length - length / 4);
  auto rss_late = rss_kib(srv.pid());
  stop = true;
  for (auto& c : clients) c.join();

  auto m = http_exchange(port, get_request("/metrics"));
  REQUIRE(m);
  auto doc = prometheus::parse(m->body);
  REQUIRE(doc);
  auto runs =
      prometheus::sample_value(doc.doc, "weft_runs_total", {{"flow", "echo"}, {"status", "ok"}});
  auto dropped = prometheus::sample_value(doc.doc, "weft_http_answers_dropped_total", {});
  std::sort(normal_ms.begin(), normal_ms.end());
  REQUIRE(!normal_ms.empty());
  auto p99 = normal_ms[normal_ms.size() * 99 / 100];
  WARN("soak " << length.count() << " s: " << normal_ms.size() << " ordinary requests, p99 " << p99
               << " ms; runs " << runs << ", answers received " << run_answers.load()
               << ", dropped " << dropped << "; RSS " << rss_early << " -> " << rss_late << " KiB");
  CHECK(failures.load() == 0);
  CHECK(p99 < 1000);
  // Every executed run reached its client, or is counted as dropped.
  CHECK(runs == static_cast<double>(run_answers.load()) + dropped);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK(rss_late - rss_early < 50 * 1024);
#endif
  CHECK(srv.stop(SIGTERM) == 0);
  fs::remove_all(dir);
}
