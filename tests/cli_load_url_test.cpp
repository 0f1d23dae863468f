// `weft load --url`, the binary as a real process: usage errors, an
// unreachable server, and whole loads against a stand-in for `weft serve`.
//
// The stand-in (fake_weft_server below) speaks the serve API as far as
// `weft load` uses it: GET /v1/flows and /v1/flows/NAME, POST /v1/flows/NAME/runs with
// traceparent, bearer auth, weft's error JSON, and a trace file that it
// writes a while after answering, as the real exporter does. It can also
// misbehave on request (503s, a trace of its own instead of the caller's),
// which the real server must never do, so that the audit is seen to catch it.
// End-to-end tests against a real `weft serve` can reuse run_weft() and
// load_url_json(): point them at the server's base URL.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <strings.h>
#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/serve_process.hpp"
#include "support/test_collector.hpp"
#include "support/weft_command.hpp"
#include "tracing/otlp_json.hpp"
#include "tracing/traceparent.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

using weft::test::proc_result;
using weft::test::run_weft;

namespace {

fs::path scratch_dir() { return weft::test::scratch_dir("weft-cli-load-url"); }

// `weft load --url BASE ARGS --json --no-progress`, its summary parsed.
json load_url_json(const std::string& base_url, const std::string& args, proc_result& raw,
                   const std::string& env = "") {
  raw = run_weft("load --url " + base_url + " " + args + " --json --no-progress", env);
  auto j = json::parse(raw.out, nullptr, false);
  return j.is_discarded() ? json() : j;
}

struct seen_request {
  std::string method, path, body;
  std::vector<std::pair<std::string, std::string>> headers;

  std::string header(const std::string& name) const {
    for (auto& [k, v] : headers)
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    return {};
  }
};

class fake_weft_server {
 public:
  struct options {
    std::string flow = "typed";
    std::size_t nodes = 2;   // spans per run: nodes + 1
    std::string api_key;     // non-empty: require "Authorization: Bearer KEY"
    int fail_every = 0;      // every k-th run gets 503
    bool own_trace = false;  // ignore traceparent (a broken server)
    std::string trace_file;  // where spans go, a batch every 300 ms
  };

  explicit fake_weft_server(options o) : opt_(std::move(o)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(listen_fd_, 256) == 0);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
    writer_ = std::thread([this] { write_loop(); });
  }

  ~fake_weft_server() {
    stopping_ = true;
    acceptor_.join();
    writer_.join();
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
    ::close(listen_fd_);
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  std::vector<seen_request> requests() const {
    std::lock_guard<std::mutex> lk(mu_);
    return seen_;
  }

 private:
  void accept_loop() {
    while (!stopping_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lk(mu_);
      fds_.insert(fd);
      conns_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string buf;
    char chunk[16384];
    for (;;) {
      auto head_end = buf.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        seen_request r = parse_head(buf.substr(0, head_end));
        std::size_t length = 0;
        if (auto cl = r.header("Content-Length"); !cl.empty()) length = std::stoul(cl);
        if (buf.size() >= head_end + 4 + length) {
          r.body = buf.substr(head_end + 4, length);
          buf.erase(0, head_end + 4 + length);
          auto answer = handle(r);
          ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
          continue;
        }
      }
      auto n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) break;
      buf.append(chunk, static_cast<std::size_t>(n));
    }
    std::lock_guard<std::mutex> lk(mu_);
    fds_.erase(fd);
    ::close(fd);
  }

  static seen_request parse_head(const std::string& head) {
    seen_request r;
    std::size_t pos = head.find("\r\n");
    std::string line = head.substr(0, pos);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    r.method = line.substr(0, sp1);
    r.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (pos != std::string::npos && pos < head.size()) {
      auto next = head.find("\r\n", pos + 2);
      auto h = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      if (auto colon = h.find(':'); colon != std::string::npos) {
        auto v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        r.headers.emplace_back(h.substr(0, colon), v);
      }
      pos = next;
    }
    return r;
  }

  static std::string reply(int status, const json& body,
                           std::vector<std::pair<std::string, std::string>> headers = {}) {
    auto text = body.dump();
    std::string out =
        "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n";
    for (auto& [k, v] : headers) out += k + ": " + v + "\r\n";
    return out + "Content-Length: " + std::to_string(text.size()) + "\r\n\r\n" + text;
  }

  static json error(const std::string& code, const std::string& message,
                    json details = json::array()) {
    return {{"error", {{"code", code}, {"message", message}, {"details", details}}}};
  }

  std::string handle(const seen_request& r) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      seen_.push_back(r);
    }
    if (!opt_.api_key.empty() && r.header("Authorization") != "Bearer " + opt_.api_key)
      return reply(401, error("unauthorized", "missing or wrong API key"));
    if (r.path == "/v1/flows" && r.method == "GET")
      return reply(200, {{"flows", {{{"name", opt_.flow}, {"nodes", opt_.nodes}}}}});
    const std::string prefix = "/v1/flows/";
    std::string rest = r.path.starts_with(prefix) ? r.path.substr(prefix.size()) : "";
    const bool runs = rest.ends_with("/runs");
    const std::string name = runs ? rest.substr(0, rest.size() - 5) : rest;
    if (name != opt_.flow)
      return reply(404, error("flow_not_found", "no flow '" + name + "'",
                              json::array({"flows: " + opt_.flow})));
    if (!runs && r.method == "GET")
      return reply(
          200,
          {{"name", opt_.flow},
           {"description", "a stand-in"},
           {"inputs",
            {{{"name", "n"}, {"type", "integer"}, {"required", true}},
             {{"name", "flag"}, {"type", "boolean"}, {"required", false}, {"default", false}}}},
           {"outputs", {{{"name", "t"}, {"from", "t.text"}}}},
           {"nodes", opt_.nodes}});
    if (!runs || r.method != "POST") return reply(405, error("method_not_allowed", r.method));
    int k = ++runs_;
    if (opt_.fail_every && k % opt_.fail_every == 0)
      return reply(503, error("busy", "server at --max-inflight"), {{"Retry-After", "1"}});
    auto body = json::parse(r.body);
    auto tp = weft::tracing::parse_traceparent(r.header("traceparent"));
    weft::tracing::trace_id trace =
        tp && !opt_.own_trace ? tp->trace : weft::tracing::trace_id::random();
    weft::tracing::span_id parent = tp && !opt_.own_trace ? tp->parent : weft::tracing::span_id{};
    std::string run_id = "run-" + std::to_string(k);
    auto root = weft::tracing::span_id::random();
    std::vector<weft::tracing::span_record> spans;
    for (std::size_t i = 0; i <= opt_.nodes; ++i) {
      weft::tracing::span_record s;
      s.trace = trace;
      s.id = i == 0 ? root : weft::tracing::span_id::random();
      s.parent = i == 0 ? parent : root;
      s.name = i == 0 ? "run " + opt_.flow : "node " + std::to_string(i);
      s.start_unix_ns = s.end_unix_ns = weft::tracing::now_unix_ns();
      s.set("weft.run.id", run_id);
      if (body.contains("session_id")) s.set("session.id", body["session_id"].get<std::string>());
      if (body.contains("user_id")) s.set("user.id", body["user_id"].get<std::string>());
      spans.push_back(std::move(s));
    }
    {
      std::lock_guard<std::mutex> lk(mu_);
      pending_.insert(pending_.end(), spans.begin(), spans.end());
    }
    return reply(200,
                 {{"run_id", run_id},
                  {"trace_id", trace.to_hex()},
                  {"outputs", {{"t", "ok"}}},
                  {"duration_ms", 0.1}},
                 {{"traceparent", weft::tracing::format_traceparent(trace, root, true)}});
  }

  // The exporter's lag: spans reach the file a while after the answer, so
  // `weft load` must wait for them (--audit-wait-ms).
  void write_loop() {
    for (bool last = false; !last;) {
      last = stopping_;
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      std::vector<weft::tracing::span_record> batch;
      {
        std::lock_guard<std::mutex> lk(mu_);
        batch.swap(pending_);
      }
      if (batch.empty() || opt_.trace_file.empty()) continue;
      std::ofstream f(opt_.trace_file, std::ios::app);
      f << weft::tracing::encode_export_request(batch, {}) << '\n';
    }
  }

  options opt_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> runs_{0};
  std::thread acceptor_, writer_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::set<int> fds_;
  std::vector<seen_request> seen_;
  std::vector<weft::tracing::span_record> pending_;
};

std::string fresh_file(const std::string& name) {
  auto p = scratch_dir() / name;
  fs::remove(p);
  return p.string();
}

}  // namespace

TEST_CASE("weft load: FLOW or --url with --flow, anything else is a usage error", "[load_url]") {
  auto neither = run_weft("load --runs 1");
  CHECK(neither.code == 2);
  CHECK_THAT(neither.err, Catch::Contains("load needs a FLOW file, or --url URL --flow NAME"));

  auto no_flow = run_weft("load --url http://127.0.0.1:9");
  CHECK(no_flow.code == 2);
  CHECK_THAT(no_flow.err, Catch::Contains("--url needs --flow NAME"));

  auto no_url = run_weft("load --flow hello");
  CHECK(no_url.code == 2);
  CHECK_THAT(no_url.err, Catch::Contains("--flow hello needs --url"));

  auto both = run_weft("load " + std::string(WEFT_SOURCE_DIR) +
                       "/examples/hello.yaml --url http://127.0.0.1:9 --flow hello");
  CHECK(both.code == 2);
  CHECK_THAT(both.err, Catch::Contains("not both"));

  auto scheme = run_weft("load --url ftp://127.0.0.1:9 --flow hello");
  CHECK(scheme.code == 2);
  CHECK_THAT(scheme.err, Catch::Contains("expected http://HOST:PORT"));
}

TEST_CASE("weft load --url: an unreachable server is a clear error, exit 1", "[load_url]") {
  std::string url;
  {
    weft::test::test_collector closed;  // a port that was just free, now refusing
    url = closed.base_url();
    closed.stop();
  }
  auto r = run_weft("load --url " + url + " --flow hello --runs 3");
  CHECK(r.code == 1);
  CHECK_THAT(r.err, Catch::Contains("weft: error: cannot reach " + url));
  CHECK(r.out.empty());
}

TEST_CASE("weft load --url: the flow must exist and the API key must fit", "[load_url]") {
  SECTION("an HTTP server that is no weft server answers 404") {
    weft::test::test_collector col;
    auto r = run_weft("load --url " + col.base_url() + " --flow hello");
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("has no flow 'hello'"));
  }
  SECTION("an unknown flow: what the server said is shown") {
    fake_weft_server srv({});
    auto r = run_weft("load --url " + srv.base_url() + " --flow nope");
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("has no flow 'nope'"));
    CHECK_THAT(r.err, Catch::Contains("flow_not_found: no flow 'nope'"));
    CHECK_THAT(r.err, Catch::Contains("flows: typed"));  // the error's details
    CHECK_THAT(r.err, Catch::Contains("weft: hint: the flows it serves: typed"));
  }
  SECTION("401 without a key, with a hint; the key itself is never printed") {
    fake_weft_server::options o;
    o.api_key = "sekrit";
    fake_weft_server srv(o);
    auto r = run_weft("load --url " + srv.base_url() + " --flow typed -i n=1");
    CHECK(r.code == 2);
    CHECK_THAT(r.err, Catch::Contains("401"));
    CHECK_THAT(r.err, Catch::Contains("set WEFT_API_KEY"));
    auto wrong =
        run_weft("load --url " + srv.base_url() + " --flow typed -i n=1", "WEFT_API_KEY=b4dk3y");
    CHECK(wrong.code == 2);
    CHECK(wrong.err.find("b4dk3y") == std::string::npos);
  }
}

TEST_CASE("weft load --url: -i is converted to the server's declared types", "[load_url]") {
  fake_weft_server srv({});
  proc_result r;
  auto j = load_url_json(srv.base_url(), "--flow typed -i n=42 -i flag=TRUE --runs 3", r);
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(j["ok"] == 3);
  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 4);
  CHECK(reqs[0].method == "GET");
  CHECK(json::parse(reqs[1].body) == json{{"inputs", {{"n", 42}, {"flag", true}}}});

  auto bad = run_weft("load --url " + srv.base_url() + " --flow typed -i n=abc");
  CHECK(bad.code == 2);
  CHECK_THAT(bad.err, Catch::Contains("-i n: 'abc' is not a valid integer"));
  auto unknown = run_weft("load --url " + srv.base_url() + " --flow typed -i n=1 -i m=2");
  CHECK(unknown.code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("has no input 'm'; its inputs are: n, flag"));
  auto missing = run_weft("load --url " + srv.base_url() + " --flow typed");
  CHECK(missing.code == 2);
  CHECK_THAT(missing.err, Catch::Contains("needs input 'n' (integer)"));
}

TEST_CASE("weft load --url: N runs, own traceparent each, audited in the server's trace file",
          "[load_url]") {
  auto trace = fresh_file("served.jsonl");
  fake_weft_server::options o;
  o.nodes = 3;
  o.api_key = "sekrit";
  o.trace_file = trace;
  fake_weft_server srv(o);
  proc_result r;
  auto j = load_url_json(srv.base_url(),
                         "--flow typed -i n=7 --runs 300 --concurrency 8 --session-id s1 "
                         "--user-id u1 --timeout-ms 5000 --trace-file " +
                             trace,
                         r, "WEFT_API_KEY=sekrit");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(j["runs"] == 300);
  CHECK(j["ok"] == 300);
  CHECK(j["failed"] == 0);
  CHECK(j["runs_per_s"].get<double>() > 0);
  for (auto k : {"p50", "p90", "p99", "max"}) CHECK(j["latency_ms"][k].is_number());
  CHECK(j["audit"]["checked"] == true);
  CHECK(j["audit"]["traces"] == 300);
  CHECK(j["audit"]["spans"] == 300 * 4);
  CHECK(j["audit"]["problems"] == 0);
  CHECK(j["export"]["remote"] == true);
  CHECK(j["http"]["statuses"] == json{{"200", 300}});
  CHECK(j["http"]["transport_errors"] == json::object());
  CHECK(j["http"]["connections_opened"].get<int>() <= 8);
  CHECK(j["http"]["max_in_flight"] == 8);
  CHECK(r.out.find("sekrit") == std::string::npos);
  CHECK(r.err.find("sekrit") == std::string::npos);

  auto reqs = srv.requests();
  REQUIRE(reqs.size() == 301);
  std::set<std::string> traces;
  for (std::size_t i = 1; i < reqs.size(); ++i) {
    auto& q = reqs[i];
    CHECK(q.method == "POST");
    CHECK(q.path == "/v1/flows/typed/runs");
    CHECK(q.header("Authorization") == "Bearer sekrit");
    CHECK(q.header("Content-Type") == "application/json");
    CHECK(q.header("Expect").empty());
    auto tp = weft::tracing::parse_traceparent(q.header("traceparent"));
    REQUIRE(tp);
    CHECK(tp->sampled);
    traces.insert(tp->trace.to_hex());
    CHECK(json::parse(q.body) == json{{"inputs", {{"n", 7}}},
                                      {"session_id", "s1"},
                                      {"user_id", "u1"},
                                      {"timeout_ms", 5000}});
  }
  CHECK(traces.size() == 300);
}

TEST_CASE("weft load --url: failures are counted per status and exit 1", "[load_url]") {
  fake_weft_server::options o;
  o.fail_every = 4;
  fake_weft_server srv(o);
  proc_result r;
  auto j = load_url_json(srv.base_url(), "--flow typed -i n=1 --runs 100 --concurrency 4", r);
  CHECK(r.code == 1);
  CHECK(j["runs"] == 100);
  CHECK(j["ok"] == 75);
  CHECK(j["failed"] == 25);
  CHECK(j["http"]["statuses"] == json{{"200", 75}, {"503", 25}});
  CHECK(j["audit"]["checked"] == false);
  CHECK_THAT(r.err, Catch::Contains(
                        "25 run(s) failed; first error: HTTP 503 busy: server at --max-inflight"));
}

TEST_CASE("weft load --url: the audit catches a server that ignores traceparent", "[load_url]") {
  auto trace = fresh_file("own-trace.jsonl");
  fake_weft_server::options o;
  o.own_trace = true;
  o.trace_file = trace;
  fake_weft_server srv(o);
  proc_result r;
  auto j = load_url_json(
      srv.base_url(), "--flow typed -i n=1 --runs 5 --audit-wait-ms 1000 --trace-file " + trace, r);
  CHECK(r.code == 1);
  CHECK(j["ok"] == 5);
  // Each run: the answered trace_id differs, and the sent trace has no spans.
  CHECK(j["audit"]["problems"].get<int>() >= 10);
  CHECK_THAT(r.err, Catch::Contains("but the request's traceparent had"));
  CHECK_THAT(r.err, Catch::Contains("no spans found"));
}

TEST_CASE("weft load --url: the text summary has the shape of weft load's", "[load_url]") {
  fake_weft_server srv({});
  auto r =
      run_weft("load --url " + srv.base_url() + " --flow typed -i n=1 --runs 20 --no-progress");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out,
             Catch::Matches("runs 20  ok 20  failed 0  in [0-9.]+ s  \\([0-9]+ runs/s\\)\\n"
                            "latency ms  p50 [0-9.]+  p90 [0-9.]+  p99 [0-9.]+  max [0-9.]+\\n"
                            "http  http://127\\.0\\.0\\.1:[0-9]+  connections [0-9]+  200 x20\\n"
                            "audit  traces not read \\(no --trace-file\\)  problems 0\\n"
                            "export  remote: the server exports the spans\\n"));
}

TEST_CASE("weft load --url: SIGINT stops sending, and the runs sent are summed up", "[load_url]") {
  fake_weft_server srv({});
  proc_result r;
  // timeout sends SIGINT after a second, long before 300,000 runs are done.
  auto j = load_url_json(srv.base_url(), "--flow typed -i n=1 --runs 300000 --concurrency 4", r,
                         "timeout --preserve-status -s INT 1");
  INFO(r.err);
  CHECK(r.code == 0);
  CHECK(j["runs"].get<int>() > 0);
  CHECK(j["runs"].get<int>() < 300000);
  CHECK(j["ok"] == j["runs"]);
  CHECK(j["failed"] == 0);
  CHECK_THAT(r.err, Catch::Contains("interrupted: sending no more runs"));
  CHECK(srv.requests().size() == j["runs"].get<std::size_t>() + 1);
}

TEST_CASE("weft load --url against a real weft serve: every request's trace audited",
          "[load_url][serve]") {
  auto dir = fs::temp_directory_path() / ("weft-e2e-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "flows");
  fs::copy_file(std::string(WEFT_SOURCE_DIR) + "/examples/chain10.yaml",
                dir / "flows" / "chain10.yaml");
  auto trace_file = (dir / "traces.jsonl").string();
  weft::test::serve_process srv({"--flows", (dir / "flows").string(), "--trace-file", trace_file},
                                {"WEFT_API_KEY=e2e-key-123"});
  INFO(srv.err());
  REQUIRE(srv.port());
  const std::string base = "http://127.0.0.1:" + std::to_string(srv.port());

  proc_result r;
  auto j = load_url_json(base,
                         "--flow chain10 -i value=hi --session-id s1 --user-id u1 --runs 400 "
                         "--concurrency 50 --trace-file " +
                             trace_file,
                         r, "WEFT_API_KEY=e2e-key-123");
  INFO(r.out << r.err);
  CHECK(r.code == 0);
  CHECK(j["ok"] == 400);
  CHECK(j["failed"] == 0);
  CHECK(j["http"]["statuses"]["200"] == 400);
  CHECK(j["http"]["connections_opened"].get<int>() <= 51);  // 50 kept alive, plus the GET
  CHECK(j["audit"]["traces"] == 400);
  CHECK(j["audit"]["spans"] == 400 * 11);
  CHECK(j["audit"]["problems"] == 0);
  CHECK(r.out.find("e2e-key-123") == std::string::npos);
  CHECK(r.err.find("e2e-key-123") == std::string::npos);

  // Without the key the server says 401 and the tool says how to fix it.
  auto denied =
      run_weft("load --url " + base + " --flow chain10 --runs 1 --no-progress", "WEFT_API_KEY=");
  CHECK(denied.code == 2);
  CHECK(denied.err.find("WEFT_API_KEY") != std::string::npos);
  CHECK(srv.stop(SIGTERM) == 0);
}
