// net::http_load over real loopback HTTP against the test collector: exactly
// C requests in flight over C kept-alive connections, bodies and headers kept
// (and capped), transport failures as samples, stop() and cancel().
//
// "At most C in flight" is checked on the server's side, not only on the
// driver's own counters: an HTTP/1.1 connection carries one request at a
// time, so a collector that accepted at most C connections never saw more
// than C requests at once, and a run that took total/C times the server's
// per-request delay had C of them at once.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "net/http_load.hpp"
#include "support/test_collector.hpp"

using namespace weft;
using namespace std::chrono_literals;
using net::http_load;
using net::http_load_sample;
using net::http_request;
using net::transport_error;
using test::fault;

namespace {

http_request post(const test::test_collector& c, std::string body = "{\"x\":1}") {
  http_request r;
  r.url = c.base_url() + "/v1/traces";
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

}  // namespace

TEST_CASE("http_load: N requests, C in flight, over C kept-alive connections", "[load_url]") {
  test::test_collector col;
  // Every answer takes 10 ms, so that the C slots overlap for real.
  col.set_default(fault::delay_by(10));
  constexpr int c = 8;
  constexpr std::int64_t n = 400;
  http_load load({.concurrency = c, .total = n});
  int in_flight = 0, peak = 0;
  std::vector<int> seen(n, 0);
  std::vector<std::int64_t> made;
  int not_ok = 0;
  auto st = load.run(
      [&](std::int64_t i) {
        made.push_back(i);
        peak = std::max(peak, ++in_flight);
        return post(col);
      },
      [&](http_load_sample&& s) {
        --in_flight;
        ++seen[static_cast<std::size_t>(s.index)];
        if (!s.response.ok() || s.latency_ms < 9.0) ++not_ok;
      });
  CHECK(st.sent == n);
  CHECK(st.answered == n);
  CHECK(not_ok == 0);
  CHECK(std::count(seen.begin(), seen.end(), 1) == n);
  for (std::size_t i = 0; i < made.size(); ++i) REQUIRE(made[i] == static_cast<std::int64_t>(i));
  CHECK(peak == c);
  CHECK(st.max_in_flight == c);
  CHECK(col.request_count() == static_cast<std::size_t>(n));
  // The server's view: one connection per slot, each reused ~50 times.
  CHECK(col.connections_accepted() == static_cast<std::size_t>(c));
  CHECK(st.connections_opened == static_cast<std::int64_t>(col.connections_accepted()));
  // n/c rounds of >= 10 ms: >= 500 ms. One at a time would take >= 4 s.
  CHECK(st.duration_s >= 0.49);
  CHECK(st.duration_s < 3.0);
  WARN("http_load: " << n << " requests, " << c << " in flight, 10 ms each, in "
                     << st.duration_s * 1000 << " ms over " << col.connections_accepted()
                     << " connections");
}

TEST_CASE("http_load: statuses, headers and bodies come back; bodies are capped", "[load_url]") {
  test::test_collector col;
  const std::string answer = R"({"run_id":"r1","trace_id":"0123456789abcdef0123456789abcdef"})";
  col.set_default(fault::answer(
      201, {{"traceparent", "00-0123456789abcdef0123456789abcdef-00f067aa0ba902b7-01"}}, answer));

  SECTION("in full, and a large body goes without Expect: 100-continue") {
    http_load load({.concurrency = 1, .total = 1});
    http_load_sample got;
    load.run([&](std::int64_t) { return post(col, std::string(256 * 1024, 'x')); },
             [&](http_load_sample&& s) { got = std::move(s); });
    CHECK(got.response.error == transport_error::none);
    CHECK(got.response.status == 201);
    CHECK(got.response.body == answer);
    CHECK_FALSE(got.body_truncated);
    CHECK(got.response.header("TraceParent") ==
          "00-0123456789abcdef0123456789abcdef-00f067aa0ba902b7-01");
    auto reqs = col.requests();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].body.size() == 256 * 1024);
    CHECK_FALSE(reqs[0].header("Expect"));
  }

  SECTION("cut at max_body_bytes, and the connection is still reused") {
    http_load load({.concurrency = 1, .total = 3, .max_body_bytes = 10});
    std::vector<http_load_sample> got;
    load.run([&](std::int64_t) { return post(col); },
             [&](http_load_sample&& s) { got.push_back(std::move(s)); });
    REQUIRE(got.size() == 3);
    for (auto& s : got) {
      CHECK(s.response.status == 201);
      CHECK(s.response.body == answer.substr(0, 10));
      CHECK(s.body_truncated);
    }
    CHECK(col.connections_accepted() == 1);
  }

  SECTION("GET works too (weft load asks for the flow's description with it)") {
    http_load load({.concurrency = 1, .total = 1});
    http_load_sample got;
    load.run(
        [&](std::int64_t) {
          http_request r;
          r.method = "GET";
          r.url = col.base_url() + "/v1/flows/x";
          return r;
        },
        [&](http_load_sample&& s) { got = std::move(s); });
    CHECK(got.response.status == 404);  // the collector knows no GET routes
    CHECK(col.requests().at(0).method == "GET");
  }
}

TEST_CASE("http_load: transport failures are samples with the error set", "[load_url]") {
  test::test_collector col;

  SECTION("a timeout fails that request alone") {
    col.script({fault::delay_by(3000)});
    http_load load({.concurrency = 1, .total = 3, .timeout_ms = 300});
    std::vector<http_load_sample> got;
    load.run([&](std::int64_t) { return post(col); },
             [&](http_load_sample&& s) { got.push_back(std::move(s)); });
    REQUIRE(got.size() == 3);
    CHECK(got[0].response.error == transport_error::timeout);
    CHECK(got[0].latency_ms >= 250);
    CHECK(got[0].latency_ms < 2500);
    CHECK(got[1].response.ok());
    CHECK(got[2].response.ok());
  }

  SECTION("a reset connection") {
    col.script({fault::reset_connection()});
    http_load load({.concurrency = 1, .total = 2});
    std::vector<http_load_sample> got;
    auto st = load.run([&](std::int64_t) { return post(col); },
                       [&](http_load_sample&& s) { got.push_back(std::move(s)); });
    REQUIRE(got.size() == 2);
    CHECK(got[0].response.error == transport_error::other);
    CHECK(got[1].response.ok());
    CHECK(st.answered == 1);
  }

  SECTION("a refused connection, for every request") {
    auto url = post(col);
    col.stop();
    http_load load({.concurrency = 4, .total = 20});
    int refused = 0;
    auto st = load.run([&](std::int64_t) { return url; },
                       [&](http_load_sample&& s) {
                         if (s.response.error == transport_error::connect) ++refused;
                       });
    CHECK(st.sent == 20);
    CHECK(st.answered == 0);
    CHECK(refused == 20);
  }

  SECTION("a request that cannot be sent is reported without echoing its header") {
    http_load load({.concurrency = 2, .total = 4});
    std::vector<http_load_sample> got;
    load.run(
        [&](std::int64_t i) {
          auto r = post(col);
          if (i == 1) r.headers.emplace_back("Authorization", "Bearer sekrit\r\nX-Evil: 1");
          return r;
        },
        [&](http_load_sample&& s) { got.push_back(std::move(s)); });
    REQUIRE(got.size() == 4);
    int bad = 0;
    for (auto& s : got) {
      if (s.index != 1) {
        CHECK(s.response.ok());
        continue;
      }
      ++bad;
      CHECK(s.response.error == transport_error::other);
      CHECK(s.response.error_message.find("sekrit") == std::string::npos);
    }
    CHECK(bad == 1);
    CHECK(col.request_count() == 3);
  }
}

TEST_CASE("http_load: stop() sends nothing new and lets requests in flight finish", "[load_url]") {
  test::test_collector col;
  col.set_default(fault::delay_by(5));

  SECTION("from done()") {
    http_load load({.concurrency = 2, .total = 100});
    std::int64_t answers = 0, ok = 0;
    auto st = load.run([&](std::int64_t) { return post(col); },
                       [&](http_load_sample&& s) {
                         if (++answers == 5) load.stop();
                         if (s.response.ok()) ++ok;
                       });
    // The 5th answer stopped it; the one other request in flight finished.
    CHECK(st.sent <= 6);
    CHECK(answers == st.sent);
    CHECK(ok == st.sent);
    CHECK(col.request_count() == static_cast<std::size_t>(st.sent));
  }

  SECTION("from another thread, while run() waits") {
    col.set_default(fault::delay_by(20));
    http_load load({.concurrency = 4, .total = 1000000});
    std::int64_t answers = 0, ok = 0;
    std::thread stopper([&] {
      std::this_thread::sleep_for(150ms);
      load.stop();
    });
    auto st = load.run([&](std::int64_t) { return post(col); },
                       [&](http_load_sample&& s) {
                         ++answers;
                         if (s.response.ok()) ++ok;
                       });
    stopper.join();
    CHECK(load.stopped());
    CHECK(st.sent > 4);
    CHECK(st.sent < 1000);
    CHECK(answers == st.sent);
    CHECK(ok == st.sent);  // none was abandoned
  }

  SECTION("before run(): nothing is sent") {
    http_load load({.concurrency = 4, .total = 10});
    load.stop();
    int calls = 0;
    auto st = load.run(
        [&](std::int64_t) {
          ++calls;
          return post(col);
        },
        [&](http_load_sample&&) { ++calls; });
    CHECK(st.sent == 0);
    CHECK(calls == 0);
  }
}

TEST_CASE("http_load: cancel() abandons requests in flight, each with a sample", "[load_url]") {
  test::test_collector col;
  col.set_default(fault::delay_by(5000));
  http_load load({.concurrency = 3, .total = 10, .tick_ms = 20});
  std::vector<http_load_sample> got;
  int ticks = 0;
  std::thread canceller([&] {
    std::this_thread::sleep_for(200ms);
    load.cancel();
  });
  auto t0 = std::chrono::steady_clock::now();
  auto st = load.run([&](std::int64_t) { return post(col); },
                     [&](http_load_sample&& s) { got.push_back(std::move(s)); }, [&] { ++ticks; });
  canceller.join();
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  CHECK(st.sent == 3);
  REQUIRE(got.size() == 3);
  for (auto& s : got) {
    CHECK(s.response.error == transport_error::other);
    CHECK(s.response.error_message == "cancelled");
    CHECK(s.latency_ms >= 150);
  }
  CHECK(ticks >= 3);  // tick ran while every request was stuck at the server
}
