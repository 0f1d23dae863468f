// weft_stream_bench: `weft serve`'s streams, driven by `weft load --url`
// as an operator would, against a flow whose llm.chat node streams from the
// loopback Chat Completions server in this process.
//
//   ./build/weft_stream_bench [--rounds 3] [--chunks 100] [--streams 1000] [--runs 5000]
//                             [--weft-b PATH]
//
// Each round measures, one after the other so they share the machine:
//   sse       `--stream`, --streams in flight (1,000): events/s delivered to
//             the clients, and whether every stream completed;
//   ttfb      `--stream` at concurrency 64: the head's first byte and the
//             first event, p50 and p99;
//   openai    `--openai --stream` at concurrency 64 through weft, then
//   direct    the same load sent to the chat server itself: what weft's
//             flow, engine and second SSE hop add to a streamed completion.
// The table gives the medians over rounds, and weft/direct ratios; with
// --weft-b a second server from another weft binary (an older build, say)
// takes its turn in every round, and the ratio column is B/A.
//
// Every model answer is `--chunks` content deltas, written at once; a run
// stream then carries chunks + 3 events (node_started, the chunks,
// node_finished, run_finished) and an OpenAI stream chunks + 3 chunks (role,
// the deltas, finish, usage). The server gets
// WEFT_HTTP_MAX_HOST_CONNECTIONS above --streams, so that its model calls do
// not queue behind the engine client's default of 64 per host.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_util.hpp"
#include "support/chat_server.hpp"
#include "support/proc_status.hpp"
#include "support/serve_process.hpp"
#include "support/weft_command.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// `weft load ARGS --json`, parsed; null when it printed something else.
json load(const std::string& args) {
  auto out = weft::bench::run_capture(std::string(WEFT_BINARY) + " load " + args +
                                      " --json --no-progress 2>/dev/null");
  auto j = json::parse(out, nullptr, false);
  if (j.is_discarded() || !j.contains("runs")) {
    std::cerr << "weft load " << args << ": output not understood:\n" << out << '\n';
    return json();
  }
  return j;
}

// CPU seconds (user + system) of process `pid`, from /proc.
double cpu_s(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(f)), {});
  auto close = text.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream rest(text.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double rusage_s(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Where the CPU went during one load: the server, the load tool (a child
// of this process) and the chat server (this process; its main thread only
// waits).
struct cpu_split {
  double server = 0, client = 0, chat = 0;
};

struct cpu_meter {
  pid_t server_pid;
  double s0, c0, m0;
  explicit cpu_meter(pid_t pid)
      : server_pid(pid), s0(cpu_s(pid)), c0(rusage_s(RUSAGE_CHILDREN)), m0(rusage_s(RUSAGE_SELF)) {}
  cpu_split read() const {
    return {cpu_s(server_pid) - s0, rusage_s(RUSAGE_CHILDREN) - c0, rusage_s(RUSAGE_SELF) - m0};
  }
};

double at(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (auto* k : path) {
    if (!p->is_object() || !p->contains(k)) return 0;
    p = &(*p)[k];
  }
  return p->is_number() ? p->get<double>() : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 3, chunks = 100, streams = 1000;
  long runs = 5000;
  std::string weft_b;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--chunks" && i + 1 < argc) chunks = std::atoi(argv[++i]);
    else if (a == "--streams" && i + 1 < argc) streams = std::atoi(argv[++i]);
    else if (a == "--runs" && i + 1 < argc) runs = std::atol(argv[++i]);
    else if (a == "--weft-b" && i + 1 < argc) weft_b = argv[++i];
    else {
      std::cerr << "usage: weft_stream_bench [--rounds N] [--chunks N] [--streams N] [--runs N] "
                   "[--weft-b PATH]\n";
      return 2;
    }
  }

  weft::test::chat_server chat;
  chat.set_recording(false);
  chat.on_request([chunks](const weft::test::chat_request&) {
    weft::test::chat_reply a;
    std::string all;
    for (int i = 0; i < chunks; ++i) {
      a.deltas.push_back("tok" + std::to_string(i) + " ");
      all += a.deltas.back();
    }
    a.content = all;
    return a;
  });

  auto dir = weft::test::scratch_dir("weft-stream-bench");
  fs::create_directories(dir / "flows");
  std::ofstream(dir / "flows" / "story.yaml")
      << "flow: story\ninputs: {prompt: {type: string}}\nnodes:\n"
         "  ask:\n    type: llm.chat\n    params: {model: m1, base_url: '"
      << chat.base_url() << "', stream: true}\n    inputs: {prompt: $inputs.prompt}\n"
      << "outputs: {text: ask.text}\n";
  // Spans go to a file, as with `weft serve`'s embedded defaults.
  auto start = [&](const std::string& bin, const std::string& tag) {
    return std::make_unique<weft::test::serve_process>(
        std::vector<std::string>{"--flows", (dir / "flows").string(), "--trace-file",
                                 (dir / ("traces-" + tag + ".jsonl")).string(), "--max-inflight",
                                 std::to_string(streams * 2), "--max-connections",
                                 std::to_string(streams * 2)},
        std::vector<std::string>{"WEFT_HTTP_MAX_HOST_CONNECTIONS=" + std::to_string(streams + 64)},
        bin);
  };
  struct server {
    std::string tag;
    std::unique_ptr<weft::test::serve_process> proc;
    std::string url;
  };
  std::vector<server> servers;
  servers.push_back({"A", start(WEFT_BINARY, "A"), ""});
  if (!weft_b.empty()) servers.push_back({"B", start(weft_b, "B"), ""});
  for (auto& s : servers) {
    if (!s.proc->port()) {
      std::cerr << "weft serve " << s.tag << " did not start:\n" << s.proc->err() << '\n';
      return 1;
    }
    s.url = "http://127.0.0.1:" + std::to_string(s.proc->port());
    std::printf("weft serve %s: pid %d on %s (%s)\n", s.tag.c_str(), s.proc->pid(), s.url.c_str(),
                s.tag == "A" ? WEFT_BINARY : weft_b.c_str());
  }
  const std::string runs_s = std::to_string(runs);
  std::printf("chat server %s; %d chunks per answer; %d rounds of %ld runs per load\n",
              chat.base_url().c_str(), chunks, rounds, runs);

  // figure -> server tag ("A", "B", or "direct") -> one value per round
  std::map<std::string, std::map<std::string, std::vector<double>>> m;
  long incomplete = 0, failed = 0;
  auto tally = [&](const json& j) {
    failed += static_cast<long>(at(j, {"failed"}));
    incomplete += static_cast<long>(at(j, {"stream", "streams"}) - at(j, {"stream", "complete"}));
  };
  auto openai = [&](const std::string& tag, const std::string& url, const std::string& model) {
    auto j = load("--url " + url + " --flow " + model + " --openai --stream --runs " + runs_s +
                  " --concurrency 64");
    tally(j);
    m["openai c64 completions/s"][tag].push_back(at(j, {"runs_per_s"}));
    m["openai c64 latency p50 ms"][tag].push_back(at(j, {"latency_ms", "p50"}));
    m["openai c64 latency p99 ms"][tag].push_back(at(j, {"latency_ms", "p99"}));
    m["openai c64 first chunk p50 ms"][tag].push_back(at(j, {"stream", "first_event_ms", "p50"}));
    m["openai c64 first chunk p99 ms"][tag].push_back(at(j, {"stream", "first_event_ms", "p99"}));
  };
  for (int r = 0; r < rounds; ++r) {
    // Servers take turns within a round, so both see the same machine.
    for (auto& s : servers) {
      const auto& t = s.tag;
      cpu_meter meter(s.proc->pid());
      auto sse = load("--url " + s.url + " --flow story --stream -i prompt=hi --runs " + runs_s +
                      " --concurrency " + std::to_string(streams));
      auto cpu = meter.read();
      tally(sse);
      const double events = at(sse, {"stream", "events"}), secs = at(sse, {"duration_s"});
      m["sse events/s"][t].push_back(at(sse, {"stream", "events_per_s"}));
      // CPU per event delivered, and the share of the 2 cores each party took.
      if (events > 0) m["sse server cpu us/event"][t].push_back(cpu.server * 1e6 / events);
      if (secs > 0) {
        m["sse cpu% server"][t].push_back(100 * cpu.server / secs);
        m["sse cpu% load tool"][t].push_back(100 * cpu.client / secs);
        m["sse cpu% chat server"][t].push_back(100 * cpu.chat / secs);
      }
      m["sse first event p99 ms"][t].push_back(at(sse, {"stream", "first_event_ms", "p99"}));

      auto c64 = load("--url " + s.url + " --flow story --stream -i prompt=hi --runs " + runs_s +
                      " --concurrency 64");
      tally(c64);
      m["c64 first byte p50 ms"][t].push_back(at(c64, {"stream", "first_byte_ms", "p50"}));
      m["c64 first byte p99 ms"][t].push_back(at(c64, {"stream", "first_byte_ms", "p99"}));
      m["c64 first event p50 ms"][t].push_back(at(c64, {"stream", "first_event_ms", "p50"}));
      m["c64 first event p99 ms"][t].push_back(at(c64, {"stream", "first_event_ms", "p99"}));
      m["c64 events/s"][t].push_back(at(c64, {"stream", "events_per_s"}));

      openai(t, s.url, "story");
      std::printf(
          "round %d %s: sse %.0f events/s (%.2f us server CPU each); c64 first byte p99 %.2f ms;"
          " openai %.0f completions/s; server RSS %ld MiB\n",
          r + 1, t.c_str(), m["sse events/s"][t].back(),
          m["sse server cpu us/event"][t].empty() ? 0.0 : m["sse server cpu us/event"][t].back(),
          m["c64 first byte p99 ms"][t].back(), m["openai c64 completions/s"][t].back(),
          weft::test::rss_kib(s.proc->pid()) / 1024);
      std::fflush(stdout);
    }
    openai("direct", chat.base_url(), "m1");
    std::printf("round %d direct: %.0f completions/s\n", r + 1,
                m["openai c64 completions/s"]["direct"].back());
  }

  using weft::bench::median;
  std::printf("\nmedians over %d rounds\n  %-30s %12s %12s %12s %8s\n", rounds, "figure", "A", "B",
              "direct", servers.size() > 1 ? "B/A" : "A/direct");
  for (auto& [name, figures] : m) {
    const auto& by = figures;  // clang 14 cannot capture a structured binding
    auto med = [&](const char* t) { return by.count(t) ? median(by.at(t)) : 0.0; };
    const double a = med("A"), b = med("B"), d = med("direct");
    const double ratio = servers.size() > 1 ? (a > 0 ? b / a : 0) : (d > 0 ? a / d : 0);
    std::printf("  %-30s %12.2f %12.2f %12.2f %8.2f\n", name.c_str(), a, b, d, ratio);
  }
  std::printf("failed runs %ld, incomplete streams %ld\n", failed, incomplete);
  for (auto& s : servers) s.proc->stop(SIGTERM);
  return failed || incomplete ? 1 : 0;
}
