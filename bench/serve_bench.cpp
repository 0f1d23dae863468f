// weft_serve_bench: `weft serve` on chain10, with the otlp sink pointed at
// the loopback test collector, loaded over HTTP by two clients side by side:
// wrk (Debian's package) and `weft load --url`. Rounds alternate the
// clients so that both see the same machine; the table shows medians.
//
//   ./build/weft_serve_bench [--rounds 3] [--seconds 8] [--runs 60000] [--no-wrk]
//                            [--server-b "ARGS"] [--weft-b PATH]
//
// The server is a separate process (as operators run it); the collector
// runs in this process, which otherwise only waits for the clients.
//
// Side by side: --server-b starts a second server with extra `weft serve`
// arguments (e.g. "--offload-body-bytes 0"), --weft-b one from another
// binary (e.g. an older build); each round then loads A, then B, with the
// same clients, and the table shows both and their ratio.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.hpp"
#include "support/proc_status.hpp"
#include "support/test_collector.hpp"

extern char** environ;
namespace fs = std::filesystem;

namespace {

struct figures {
  double rps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  long errors = 0;
};

double wrk_ms(const std::string& v, const std::string& unit) {
  double x = std::stod(v);
  if (unit == "us") return x / 1000;
  if (unit == "s") return x * 1000;
  return x;
}

figures run_wrk(std::uint16_t port, int conns, int seconds, const std::string& lua) {
  auto out = weft::bench::run_capture(
      "wrk -t2 -c" + std::to_string(conns) + " -d" + std::to_string(seconds) + "s --latency -s " +
      lua + " http://127.0.0.1:" + std::to_string(port) + "/v1/flows/chain10/runs 2>&1");
  figures f;
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    f.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+50%\s+([0-9.]+)(us|ms|s))")))
    f.p50_ms = wrk_ms(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(\n\s+99%\s+([0-9.]+)(us|ms|s))")))
    f.p99_ms = wrk_ms(m[1], m[2]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses:\s+([0-9]+))")))
    f.errors = std::stol(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Socket errors:.*)")))
    std::cerr << "wrk: " << m[0] << '\n';
  if (f.rps == 0) std::cerr << "wrk output not understood:\n" << out << '\n';
  return f;
}

figures run_weft_load(const std::string& weft, std::uint16_t port, int conns, long runs) {
  auto out = weft::bench::run_capture(
      weft + " load --url http://127.0.0.1:" + std::to_string(port) +
      " --flow chain10 -i value=x --session-id bench --user-id bench --runs " +
      std::to_string(runs) + " --concurrency " + std::to_string(conns) +
      " --json --no-progress 2>/dev/null");
  figures f;
  auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("latency_ms")) {
    std::cerr << "weft load output not understood:\n" << out << '\n';
    return f;
  }
  f.rps = j.value("runs_per_s", 0.0);
  f.p50_ms = j["latency_ms"].value("p50", 0.0);
  f.p99_ms = j["latency_ms"].value("p99", 0.0);
  f.errors = j.value("failed", 0L);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, seconds = 8;
  long runs = 60000;
  bool use_wrk = true;
  std::string server_b_args, weft_b;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--seconds" && i + 1 < argc) seconds = std::atoi(argv[++i]);
    else if (a == "--runs" && i + 1 < argc) runs = std::atol(argv[++i]);
    else if (a == "--no-wrk") use_wrk = false;
    else if (a == "--server-b" && i + 1 < argc) server_b_args = argv[++i];
    else if (a == "--weft-b" && i + 1 < argc) weft_b = argv[++i];
    else {
      std::cerr << "usage: weft_serve_bench [--rounds N] [--seconds S] [--runs N] [--no-wrk]"
                   " [--server-b ARGS] [--weft-b PATH]\n";
      return 2;
    }
  }
  if (use_wrk && std::system("command -v wrk >/dev/null") != 0) {
    std::cerr
        << "weft_serve_bench: wrk is not installed (apt-get install -y wrk), or pass --no-wrk\n";
    return 2;
  }
  auto self_dir = fs::canonical("/proc/self/exe").parent_path();
  std::string weft = (self_dir / "weft").string();
  if (weft_b.empty()) weft_b = weft;
  auto dir = fs::temp_directory_path() / ("weft-serve-bench-" + std::to_string(getpid()));
  fs::create_directories(dir / "flows");
  std::ofstream(dir / "flows" / "chain10.yaml") << weft::bench::chain10();
  auto lua = (dir / "post.lua").string();
  std::ofstream(lua)
      << "wrk.method = \"POST\"\n"
         "wrk.body = "
         "'{\"inputs\":{\"value\":\"x\"},\"session_id\":\"bench\",\"user_id\":\"bench\"}'\n"
         "wrk.headers[\"Content-Type\"] = \"application/json\"\n";

  weft::test::test_collector collector;
  // Starts `weft serve` (binary `bin`, extra `args`); its pid and port.
  auto start_server = [&](const std::string& tag, const std::string& bin,
                          const std::string& args) -> std::pair<pid_t, std::uint16_t> {
    auto port_file = dir / ("serve-" + tag + ".out");
    std::string cmd = "OTEL_EXPORTER_OTLP_ENDPOINT=" + collector.base_url() +
                      " WEFT_SPOOL_DIR=" + (dir / ("spool-" + tag)).string() + " exec " + bin +
                      " serve --flows " + (dir / "flows").string() + " --listen 127.0.0.1:0 " +
                      args + " > " + port_file.string() + " 2>" +
                      (dir / ("serve-" + tag + ".err")).string();
    pid_t pid = 0;
    std::vector<std::string> argv_s = {"/bin/sh", "-c", cmd};
    std::vector<char*> av;
    for (auto& x : argv_s) av.push_back(x.data());
    av.push_back(nullptr);
    if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, av.data(), environ) != 0) return {0, 0};
    std::uint16_t port = 0;
    for (int i = 0; i < 500 && !port; ++i) {
      std::ifstream f(port_file);
      std::string text((std::istreambuf_iterator<char>(f)), {});
      auto at = text.find("127.0.0.1:");
      if (at != std::string::npos)
        port = static_cast<std::uint16_t>(std::atoi(text.c_str() + at + 10));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (!port) kill(pid, SIGKILL);
    return {pid, port};
  };
  struct server {
    std::string tag;
    pid_t pid;
    std::uint16_t port;
  };
  std::vector<server> servers;
  for (auto& [tag, bin, args] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"A", weft, ""}, {"B", weft_b, server_b_args}}) {
    if (tag == "B" && weft_b == weft && server_b_args.empty()) continue;
    auto [pid, port] = start_server(tag, bin, tag == "A" ? "" : args);
    if (!port) {
      std::cerr << "weft serve " << tag << " did not start\n";
      for (auto& s : servers) kill(s.pid, SIGKILL);
      return 1;
    }
    std::printf("weft serve %s: pid %d on 127.0.0.1:%u (%s %s)\n", tag.c_str(), pid, port,
                bin.c_str(), args.c_str());
    servers.push_back({tag, pid, port});
  }
  std::printf("otlp -> %s; %d rounds\n", collector.base_url().c_str(), rounds);

  struct series {
    std::vector<double> rps, p50, p99;
    long errors = 0;
  };
  std::map<std::string, series> results;
  auto record = [&](const std::string& key, pid_t pid, const figures& f) {
    auto& s = results[key];
    s.rps.push_back(f.rps);
    s.p50.push_back(f.p50_ms);
    s.p99.push_back(f.p99_ms);
    s.errors += f.errors;
    std::printf(
        "  %-24s %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %ld  (server RSS %ld MiB)\n",
        key.c_str(), f.rps, f.p50_ms, f.p99_ms, f.errors, weft::test::rss_kib(pid) / 1024);
    std::fflush(stdout);
    collector.clear();  // the collector keeps bodies; keep its memory bounded
  };
  // Warm-up: connections, allocator, the exporter's first batches.
  for (auto& sv : servers) run_weft_load(weft, sv.port, 64, 5000);
  collector.clear();
  bool ab = servers.size() > 1;
  for (int r = 0; r < rounds; ++r) {
    std::printf("round %d\n", r + 1);
    for (int c : {64, 1000})
      for (auto& sv : servers) {
        auto pre = ab ? sv.tag + ": " : std::string();
        if (use_wrk)
          record(pre + "wrk c=" + std::to_string(c), sv.pid, run_wrk(sv.port, c, seconds, lua));
        record(pre + "weft load c=" + std::to_string(c), sv.pid,
               run_weft_load(weft, sv.port, c, runs));
      }
  }
  std::printf("\nmedians over %d rounds (chain10, otlp sink to the loopback collector)\n", rounds);
  std::printf("%-24s %12s %10s %10s %8s\n", "client", "req/s", "p50 ms", "p99 ms", "errors");
  for (auto& [k, s] : results)
    std::printf("%-24s %12.0f %10.2f %10.2f %8ld\n", k.c_str(), weft::bench::median(s.rps),
                weft::bench::median(s.p50), weft::bench::median(s.p99), s.errors);
  if (ab) {
    std::printf("\nB/A (req/s of the medians)\n");
    for (auto& [k, s] : results) {
      if (k.rfind("A: ", 0) != 0) continue;
      auto b = results.find("B: " + k.substr(3));
      if (b == results.end()) continue;
      std::printf("%-24s %8.3f\n", k.substr(3).c_str(),
                  weft::bench::median(b->second.rps) / weft::bench::median(s.rps));
    }
  }
  for (auto& sv : servers) {
    kill(sv.pid, SIGTERM);
    int status = 0;
    waitpid(sv.pid, &status, 0);
    std::printf("weft serve %s exited %d after SIGTERM\n", sv.tag.c_str(),
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  fs::remove_all(dir);
  return 0;
}
