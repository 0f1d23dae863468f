// http_client over real loopback HTTP against the test collector: round
// trips, gzip bodies, statuses passed through verbatim, transport failures as
// values, keep-alive, thousands of requests in flight without blocking a
// scheduler thread, and shutdown with requests pending.
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <curl/curl.h>

#include <caf/all.hpp>

#include "net/gzip.hpp"
#include "net/http_client.hpp"
#include "support/loopback_server.hpp"
#include "support/test_collector.hpp"

using namespace weft;
using namespace std::chrono_literals;
using net::http_request;
using net::http_response;
using net::transport_error;
using test::fault;

namespace {

using clock_type = std::chrono::steady_clock;

double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

http_request post(const test::test_collector& c, std::string body = "{\"x\":1}",
                  std::string path = "/v1/traces") {
  http_request r;
  r.url = c.base_url() + path;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = std::move(body);
  return r;
}

// One request from a scoped actor (its own thread, not a scheduler thread).
http_response call(caf::actor_system& sys, const net::http_client_actor& client, http_request req) {
  caf::scoped_actor self{sys};
  http_response out;
  self->request(client, caf::infinite, std::move(req))
      .receive([&](http_response& r) { out = std::move(r); },
               [&](caf::error& e) {
                 out.error = transport_error::other;
                 out.error_message = "caf error: " + sys.render(e);
               });
  return out;
}

struct load_result {
  int ok = 0;          // 2xx answers
  int failed = 0;      // other statuses and transport errors
  int caf_errors = 0;  // requests that got a caf::error instead
  int shut_down = 0;   // "http client shut down" answers
  double elapsed_ms = 0;
};

// Sends `total` copies of `req` to the client with at most `window` in
// flight, then reports a load_result (as ints and a double) to `report_to`.
caf::behavior load_actor(caf::event_based_actor* self, net::http_client_actor client,
                         http_request req, int total, int window, caf::actor report_to) {
  auto st = std::make_shared<load_result>();
  auto sent = std::make_shared<int>(0);
  auto t0 = clock_type::now();
  auto send_next = std::make_shared<std::function<void()>>();
  auto finish_one = [=] {
    if (st->ok + st->failed + st->caf_errors == total) {
      st->elapsed_ms = ms_since(t0);
      self->send(report_to, st->ok, st->failed, st->caf_errors, st->shut_down, st->elapsed_ms);
      self->quit();
    } else {
      (*send_next)();
    }
  };
  *send_next = [=] {
    if (*sent == total) return;
    ++*sent;
    self->request(client, std::chrono::seconds(30), req)
        .then(
            [=](http_response& r) {
              if (r.ok()) ++st->ok;
              else ++st->failed;
              if (r.error_message == "http client shut down") ++st->shut_down;
              finish_one();
            },
            [=](caf::error&) {
              ++st->caf_errors;
              finish_one();
            });
  };
  for (int i = 0; i < window && i < total; ++i) (*send_next)();
  // Break the function's reference to itself once done, or it would leak.
  self->attach_functor([send_next] { *send_next = nullptr; });
  return {};
}

load_result await_load(caf::scoped_actor& self, std::chrono::seconds timeout) {
  load_result r;
  r.caf_errors = -1;
  self->receive(
      [&](int ok, int failed, int caf_errors, int shut_down, double ms) {
        r = load_result{ok, failed, caf_errors, shut_down, ms};
      },
      caf::after(timeout) >> [] {});
  return r;
}

}  // namespace

TEST_CASE("http_client: POST round trip carries status, headers and bodies", "[net]") {
  test::test_collector col;
  col.script({fault::answer(202, {{"X-Reply", "yes"}}, R"({"accepted":1})")});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);

  auto req = post(col, R"({"spans":[1,2,3]})");
  req.headers.emplace_back("X-Test", "abc");
  auto r = call(sys, client, req);
  CHECK(r.error == transport_error::none);
  CHECK(r.error_message.empty());
  CHECK(r.status == 202);
  CHECK(r.ok());
  CHECK(r.body == R"({"accepted":1})");
  CHECK(r.header("x-reply") == "yes");
  CHECK(r.header("CONTENT-TYPE") == "application/json");
  CHECK_FALSE(r.header("x-missing"));

  auto got = col.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].method == "POST");
  CHECK(got[0].path == "/v1/traces");
  CHECK(got[0].body == R"({"spans":[1,2,3]})");
  CHECK(got[0].header("x-test") == "abc");
  CHECK(got[0].header("User-Agent") == "weft/0.1");
  CHECK_FALSE(got[0].header("Expect"));
  CHECK_FALSE(got[0].was_gzip);

  SECTION("unknown paths and other methods are answered, not errors") {
    auto r404 = call(sys, client, post(col, "{}", "/nope"));
    CHECK(r404.error == transport_error::none);
    CHECK(r404.status == 404);
    CHECK_FALSE(r404.ok());
    auto get = post(col, "", "/v1/traces");
    get.method = "GET";
    CHECK(call(sys, client, get).status == 404);
    CHECK(col.requests().back().method == "GET");
  }
  SECTION("a large body arrives intact") {
    std::string big(3u << 20, 'x');
    for (std::size_t i = 0; i < big.size(); i += 7) big[i] = static_cast<char>('a' + i % 26);
    auto rb = call(sys, client, post(col, big));
    CHECK(rb.status == 200);
    CHECK(col.requests().back().body == big);
  }
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: gzip request bodies arrive decompressed", "[net]") {
  test::test_collector col;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);

  std::string json = "{\"resourceSpans\":[";
  for (int i = 0; i < 500; ++i) json += (i ? "," : "") + std::string("{\"name\":\"span\"}");
  json += "]}";
  auto req = post(col, net::gzip_compress(json), "/api/public/otel/v1/traces");
  req.headers.emplace_back("Content-Encoding", "gzip");
  CHECK(req.body.size() < json.size() / 10);
  auto r = call(sys, client, req);
  CHECK(r.status == 200);
  auto got = col.requests();
  REQUIRE(got.size() == 1);
  CHECK(got[0].was_gzip);
  CHECK(got[0].body == json);
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: error statuses come back verbatim, without retries", "[net]") {
  test::test_collector col;
  col.script({fault::answer(500, {}, "boom"), fault::answer(503),
              fault::answer(429, {{"Retry-After", "7"}}), fault::answer(400, {}, "bad span")});
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);

  auto r500 = call(sys, client, post(col));
  auto r503 = call(sys, client, post(col));
  auto r429 = call(sys, client, post(col, "{}", "/api/public/ingestion"));
  auto r400 = call(sys, client, post(col));
  CHECK(r500.status == 500);
  CHECK(r500.body == "boom");
  CHECK(r503.status == 503);
  CHECK(r429.status == 429);
  CHECK(r429.header("retry-after") == "7");
  CHECK(r400.status == 400);
  CHECK(r400.body == "bad span");
  for (auto* r : {&r500, &r503, &r429, &r400}) {
    CHECK(r->error == transport_error::none);
    CHECK_FALSE(r->ok());
  }
  auto got = col.requests();
  REQUIRE(got.size() == 4);  // one attempt each
  for (int i = 0; i < 4; ++i) CHECK(got[static_cast<std::size_t>(i)].script_step == i);
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: transport failures are values", "[net]") {
  test::test_collector col;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);

  SECTION("timeout") {
    col.script({fault::delay_by(3000)});
    auto req = post(col);
    req.timeout_ms = 300;
    auto t0 = clock_type::now();
    auto r = call(sys, client, req);
    auto ms = ms_since(t0);
    CHECK(r.error == transport_error::timeout);
    CHECK(r.status == 0);
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.error_message.empty());
    CHECK(ms >= 290);
    CHECK(ms < 1300);
    INFO(r.error_message);
  }
  SECTION("connection reset") {
    // Two resets: libcurl silently retries once when a reused connection
    // dies before any answer, so one reset might not surface.
    col.script({fault::reset_connection(), fault::reset_connection()});
    auto r = call(sys, client, post(col));
    CHECK((r.error == transport_error::other || r.error == transport_error::connect));
    CHECK(r.status == 0);
    CHECK_FALSE(r.error_message.empty());
    CHECK(col.request_count() >= 1);
  }
  SECTION("connection refused, then the backend comes back on the same port") {
    REQUIRE(call(sys, client, post(col)).ok());  // leaves a kept-alive connection
    col.stop();
    auto req = post(col);
    req.headers.emplace_back("Authorization", "Bearer sk-secret-123");
    auto r = call(sys, client, req);
    CHECK(r.error == transport_error::connect);
    CHECK_FALSE(r.error_message.empty());
    CHECK(r.error_message.find("sk-secret") == std::string::npos);
    INFO(r.error_message);
    col.start();
    auto again = call(sys, client, req);
    CHECK(again.ok());
    CHECK(again.error == transport_error::none);
  }
  SECTION("an unknown host") {
    http_request req;
    req.url = "http://weft-test.invalid/v1/traces";  // .invalid never resolves (RFC 6761)
    req.timeout_ms = 2000;
    auto r = call(sys, client, req);
    // Without a reachable resolver the lookup may run out of time instead.
    CHECK((r.error == transport_error::dns || r.error == transport_error::timeout));
    INFO(r.error_message);
  }
  SECTION("a header value with CR/LF is refused without echoing it") {
    auto req = post(col);
    req.headers.emplace_back("X-Evil", "a\r\nX-Injected: sk-secret");
    auto r = call(sys, client, req);
    CHECK(r.error == transport_error::invalid);
    CHECK(r.error_message.find("sk-secret") == std::string::npos);
    CHECK(col.request_count() == 0);
  }
  SECTION("only http and https") {
    http_request req;
    req.url = "file:///etc/passwd";
    auto r = call(sys, client, req);
    CHECK(r.error == transport_error::invalid);  // not worth a retry
    CHECK(r.body.empty());
  }
  SECTION("an oversized response body fails the request") {
    net::http_client_config small;
    small.max_response_bytes = 100;
    auto tiny = net::spawn_http_client(sys, small);
    col.script({fault::answer(200, {}, std::string(1000, 'z'))});
    auto r = call(sys, tiny, post(col));
    CHECK(r.error == transport_error::other);
    CHECK(r.body.empty());
    anon_send_exit(tiny, caf::exit_reason::user_shutdown);
  }
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: keep-alive reuses a handful of connections", "[net]") {
  test::test_collector col;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);
  caf::scoped_actor self{sys};
  sys.spawn(load_actor, client, post(col), 500, 8, caf::actor{self});
  auto r = await_load(self, 15s);
  CHECK(r.ok == 500);
  CHECK(r.failed == 0);
  CHECK(r.caf_errors == 0);
  CHECK(col.request_count() == 500);
  CHECK(col.connections_accepted() <= 8);
  WARN("keep-alive: 500 requests (8 in flight) in "
       << r.elapsed_ms << " ms over " << col.connections_accepted() << " connections");
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: 2,000 requests in flight never block the one scheduler thread", "[net]") {
  test::test_collector col;
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);
  // An unrelated actor that must stay responsive on the same (only) thread.
  // It takes an argument only because CAF 0.17 dereferences a null argument
  // tuple when spawning a function without any, which UBSan reports.
  auto echo = sys.spawn(
      [](int offset) -> caf::behavior { return {[offset](int x) { return x + offset; }}; }, 0);

  caf::scoped_actor self{sys};
  caf::scoped_actor pinger{sys};
  sys.spawn(load_actor, client, post(col), 2000, 2000, caf::actor{self});

  // Ping the echo actor while the load runs; the load's report ends it.
  double worst_ping_ms = 0;
  int pings = 0;
  load_result r;
  r.caf_errors = -1;
  bool done = false;
  auto t0 = clock_type::now();
  while (!done && ms_since(t0) < 15000) {
    auto p0 = clock_type::now();
    pinger->request(echo, std::chrono::seconds(5), 42)
        .receive([&](int) {}, [&](caf::error&) { worst_ping_ms = 1e9; });
    worst_ping_ms = std::max(worst_ping_ms, ms_since(p0));
    ++pings;
    self->receive(
        [&](int ok, int failed, int caf_errors, int shut_down, double ms) {
          r = load_result{ok, failed, caf_errors, shut_down, ms};
          done = true;
        },
        caf::after(std::chrono::milliseconds(2)) >> [] {});
  }
  REQUIRE(done);
  CHECK(r.ok == 2000);
  CHECK(r.failed == 0);
  CHECK(r.caf_errors == 0);
  CHECK(col.request_count() == 2000);
  CHECK(pings >= 3);
  // A client that blocked the only scheduler thread would hold the echo
  // actor off for most of the load; a bound relative to the load's length
  // tells that apart without turning machine noise (sanitizers, a busy CI
  // box) into failures.
  CHECK(worst_ping_ms < std::max(250.0, r.elapsed_ms / 2));
  WARN("2,000 concurrent requests: "
       << r.elapsed_ms << " ms (" << static_cast<int>(2000 / (r.elapsed_ms / 1000)) << " req/s), "
       << col.connections_accepted() << " connections; " << pings << " pings meanwhile, worst "
       << worst_ping_ms << " ms");
  anon_send_exit(client, caf::exit_reason::user_shutdown);
  anon_send_exit(echo, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: exiting with requests pending answers them and does not hang", "[net]") {
  test::test_collector col;
  col.set_default(fault::delay_by(10000));
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);
  caf::scoped_actor self{sys};
  sys.spawn(load_actor, client, post(col), 50, 50, caf::actor{self});
  // Eight are on the wire (the per-host limit), the rest wait inside libcurl.
  REQUIRE(col.wait_for([&] { return col.request_count() >= 8; }, 5s));
  auto t0 = clock_type::now();
  anon_send_exit(client, caf::exit_reason::user_shutdown);
  auto r = await_load(self, 5s);
  CHECK(ms_since(t0) < 2000);
  CHECK(r.ok == 0);
  CHECK(r.failed + r.caf_errors == 50);
  CHECK(r.shut_down >= 1);
  WARN("shutdown: " << r.shut_down << " answered 'shut down', " << r.caf_errors
                    << " got a caf error, in " << ms_since(t0) << " ms");
}

TEST_CASE("http_client: a client nobody references goes away with its thread", "[net]") {
  test::test_collector col;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  {
    auto client = net::spawn_http_client(sys);
    CHECK(call(sys, client, post(col)).ok());
  }
  // The actor system's destructor waits for every actor: it would hang here
  // if the worker thread kept its actor alive.
}

// ---------------------------------------------------------------------------
// Streaming and abort: the (http_start_atom, ...) protocol, against
// support/loopback_server.hpp (which sees when the client hangs up).

namespace {

using test::loopback_server;

http_request get(const loopback_server& srv, const std::string& target) {
  http_request r;
  r.method = "GET";
  r.url = srv.url(target);
  r.timeout_ms = 10000;
  return r;
}

// What a streamed request delivered to a receiver, in arrival order.
struct stream_log {
  std::vector<std::string> chunks;
  std::optional<http_response> result;
  bool chunk_after_result = false;
  std::string body() const {
    std::string s;
    for (auto& c : chunks) s += c;
    return s;
  }
};

// Receives messages for `tag` until its result arrives or `timeout` passes.
void receive_stream(caf::scoped_actor& self, std::uint64_t tag, stream_log& log,
                    std::chrono::milliseconds timeout) {
  auto deadline = clock_type::now() + timeout;
  while (!log.result && clock_type::now() < deadline) {
    self->receive(
        [&](net::http_chunk_atom, std::uint64_t t, net::http_chunk& c) {
          if (t != tag) return;
          if (log.result) log.chunk_after_result = true;
          log.chunks.push_back(c.bytes);
        },
        [&](net::http_result_atom, std::uint64_t t, http_response& r) {
          if (t == tag) log.result = std::move(r);
        },
        caf::after(std::chrono::milliseconds(20)) >> [] {});
  }
}

}  // namespace

TEST_CASE("http_client: a streamed body arrives in order, in pieces, before the result",
          "[net][http]") {
  loopback_server srv;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);
  caf::scoped_actor self{sys};

  self->send(client, net::http_start_atom::value, caf::actor{self}, std::uint64_t{7}, true,
             get(srv, "/s?chunks=20&chunk_bytes=100&interval_ms=5"));
  stream_log log;
  receive_stream(self, 7, log, 5000ms);
  REQUIRE(log.result);
  CHECK(log.result->error == transport_error::none);
  CHECK(log.result->status == 200);
  CHECK(log.result->body.empty());  // the chunks took it
  CHECK(log.result->header("x-test-header") == "Value");
  CHECK(log.body() == test::pattern(0, 2000));
  CHECK(log.chunks.size() >= 2);  // 5 ms apart: libcurl cannot have read it in one go

  SECTION("without stream, the same form answers with the whole body") {
    self->send(client, net::http_start_atom::value, caf::actor{self}, std::uint64_t{8}, false,
               get(srv, "/s?chunks=5&chunk_bytes=10"));
    stream_log whole;
    receive_stream(self, 8, whole, 5000ms);
    REQUIRE(whole.result);
    CHECK(whole.chunks.empty());
    CHECK(whole.result->body == test::pattern(0, 50));
  }
  SECTION("a streamed body over max_response_bytes fails the request") {
    net::http_client_config small;
    small.max_response_bytes = 1000;
    auto c2 = net::spawn_http_client(sys, small);
    self->send(c2, net::http_start_atom::value, caf::actor{self}, std::uint64_t{9}, true,
               get(srv, "/s?chunks=30&chunk_bytes=100"));
    stream_log big;
    receive_stream(self, 9, big, 5000ms);
    REQUIRE(big.result);
    CHECK(big.result->error == transport_error::other);
    CHECK(big.body().size() <= 1000);
    anon_send_exit(c2, caf::exit_reason::user_shutdown);
  }
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: an abort closes the connection at once and nothing more arrives",
          "[net][http]") {
  loopback_server srv;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);
  caf::scoped_actor self{sys};

  // A head, then one chunk every 50 ms for 10 s.
  self->send(client, net::http_start_atom::value, caf::actor{self}, std::uint64_t{1}, true,
             get(srv, "/slow?chunks=200&chunk_bytes=10&interval_ms=50"));
  std::size_t before = 0;
  self->receive([&](net::http_chunk_atom, std::uint64_t, net::http_chunk&) { ++before; },
                caf::after(5s) >> [] {});
  REQUIRE(before == 1);
  auto t0 = clock_type::now();
  self->send(client, net::http_abort_atom::value, caf::actor{self}, std::uint64_t{1});
  REQUIRE(srv.wait_for([&] { return srv.requests().at(0).closed_early.has_value(); }, 2s));
  auto close_ms =
      std::chrono::duration<double, std::milli>(*srv.requests().at(0).closed_early - t0).count();
  CHECK(close_ms < 100);
  // Chunks sent before the abort was processed may still come (receivers
  // drop tags they no longer know); a result never does, nor late chunks.
  std::size_t after = 0;
  bool result = false;
  auto until = clock_type::now() + 400ms;
  while (clock_type::now() < until)
    self->receive([&](net::http_chunk_atom, std::uint64_t, net::http_chunk&) { ++after; },
                  [&](net::http_result_atom, std::uint64_t, http_response&) { result = true; },
                  caf::after(20ms) >> [] {});
  CHECK_FALSE(result);
  CHECK(after <= 1);
  WARN("abort to server-side close: " << close_ms << " ms");

  SECTION("the client goes on serving; aborting a finished or unknown tag is harmless") {
    self->send(client, net::http_abort_atom::value, caf::actor{self}, std::uint64_t{1});
    self->send(client, net::http_abort_atom::value, caf::actor{self}, std::uint64_t{999});
    self->send(client, net::http_start_atom::value, caf::actor{self}, std::uint64_t{2}, true,
               get(srv, "/ok?chunks=3&chunk_bytes=4"));
    stream_log log;
    receive_stream(self, 2, log, 5000ms);
    REQUIRE(log.result);
    CHECK(log.result->status == 200);
    CHECK(log.body() == test::pattern(0, 12));
  }
  SECTION("an abort before the answer's head also closes the connection") {
    self->send(client, net::http_start_atom::value, caf::actor{self}, std::uint64_t{3}, true,
               get(srv, "/late?delay_ms=5000"));
    REQUIRE(srv.wait_for([&] { return srv.request_count() == 2; }, 2s));
    auto t1 = clock_type::now();
    self->send(client, net::http_abort_atom::value, caf::actor{self}, std::uint64_t{3});
    REQUIRE(srv.wait_for([&] { return srv.requests().at(1).closed_early.has_value(); }, 2s));
    CHECK(
        std::chrono::duration<double, std::milli>(*srv.requests().at(1).closed_early - t1).count() <
        100);
  }
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: a receiver that holds chunks pauses the transfer at the stream window",
          "[net][http]") {
  loopback_server srv;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  net::http_client_config hc;
  hc.stream_window_bytes = 8192;
  auto client = net::spawn_http_client(sys, hc);
  caf::scoped_actor self{sys};

  // 400 KB as fast as the server can write it.
  self->send(client, net::http_start_atom::value, caf::actor{self}, std::uint64_t{1}, true,
             get(srv, "/fast?chunks=400&chunk_bytes=1000"));
  std::vector<net::http_chunk> held;  // copies keep their credit: nothing is consumed
  std::size_t held_bytes = 0;
  auto until = clock_type::now() + 500ms;
  while (clock_type::now() < until)
    self->receive(
        [&](net::http_chunk_atom, std::uint64_t, net::http_chunk& c) {
          held_bytes += c.bytes.size();
          held.push_back(c);
        },
        caf::after(20ms) >> [] {});
  // The window, plus at most one libcurl read taken by an empty window.
  CHECK(held_bytes > 0);
  CHECK(held_bytes <= 8192 + CURL_MAX_WRITE_SIZE);
  std::string got;
  for (auto& c : held) got += c.bytes;
  held.clear();  // the credits return: the transfer resumes
  stream_log rest;
  receive_stream(self, 1, rest, 10000ms);
  REQUIRE(rest.result);
  CHECK(rest.result->status == 200);
  CHECK(got + rest.body() == test::pattern(0, 400000));
  WARN("held " << held_bytes << " bytes while paused (window 8192)");
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}

TEST_CASE("http_client: streamed bodies survive random chunk boundaries (fuzz)", "[net][http]") {
  loopback_server srv;
  caf::actor_system_config cfg;
  caf::actor_system sys{cfg};
  auto client = net::spawn_http_client(sys);
  caf::scoped_actor self{sys};
  std::mt19937 rng(20240611);
  for (std::uint64_t i = 0; i < 60; ++i) {
    int chunks = std::uniform_int_distribution<int>(1, 40)(rng);  // chunks=0 means a plain body
    int max_bytes = std::uniform_int_distribution<int>(1, 3000)(rng);
    int interval = std::uniform_int_distribution<int>(0, 2)(rng);
    auto target = "/f?chunks=" + std::to_string(chunks) +
                  "&chunk_bytes=" + std::to_string(max_bytes) + "&seed=" + std::to_string(i) +
                  "&interval_ms=" + std::to_string(interval);
    // The server's sizes, replayed: same PRNG, same seed.
    std::mt19937 replay(static_cast<unsigned>(i));
    std::size_t total = 0;
    for (int k = 0; k < chunks; ++k)
      total += std::uniform_int_distribution<std::size_t>(
          1, static_cast<std::size_t>(max_bytes))(replay);
    self->send(client, net::http_start_atom::value, caf::actor{self}, i, true, get(srv, target));
    stream_log log;
    receive_stream(self, i, log, 10000ms);
    INFO(target);
    REQUIRE(log.result);
    CHECK(log.result->status == 200);
    CHECK_FALSE(log.chunk_after_result);
    CHECK(log.body() == test::pattern(0, total));
  }
  anon_send_exit(client, caf::exit_reason::user_shutdown);
}
