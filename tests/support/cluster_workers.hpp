// `weft worker` processes for the cluster tests: started on loopback with
// the test key, each writing its spans to NAME.jsonl in a flow_dir.
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/flow_dir.hpp"
#include "support/serve_process.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "weft/engine.hpp"

namespace weft::test {

/// The environment entry every worker and front of the tests shares.
inline const char* cluster_key = "WEFT_CLUSTER_KEY=test-key-1";

/// The text of examples/NAME.
inline std::string example(const std::string& name) {
  std::ifstream f(std::string(WEFT_SOURCE_DIR) + "/examples/" + name);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

/// A worker serving dir/flows, named `name`, spans to dir/NAME.jsonl;
/// `extra` arguments after those (--tags gpu).
inline std::unique_ptr<worker_process> start_worker(const flow_dir& dir, const std::string& name,
                                                    const std::string& listen = "127.0.0.1:0",
                                                    const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args{
      "--flows",      (dir.path() / "flows").string(),          "--listen", listen, "--name", name,
      "--trace-file", (dir.path() / (name + ".jsonl")).string()};
  args.insert(args.end(), extra.begin(), extra.end());
  auto w = std::make_unique<worker_process>(std::move(args), std::vector<std::string>{cluster_key});
  INFO(w->err());
  REQUIRE(w->port() != 0);
  return w;
}

/// A front's engine options for `workers`: the test key, no local
/// fallback (a run that finds no worker fails), and a quiet log.
inline engine_options cluster_front(std::vector<std::string> workers) {
  engine_options o;
  o.workers = std::move(workers);
  o.cluster_key = "test-key-1";
  o.local_fallback = false;
  o.log = [](log_level, std::string_view) {};
  return o;
}

/// cluster_front() for the process tests: a fast heartbeat (a lost worker
/// shows within 1.5 s) and the front's spans to dir/front.jsonl.
inline engine_options timed_front(const flow_dir& dir, std::vector<std::string> workers) {
  auto o = cluster_front(std::move(workers));
  o.heartbeat = std::chrono::milliseconds(200);
  o.heartbeat_timeout = std::chrono::milliseconds(1500);
  o.settings.tracing.trace_file = (dir.path() / "front.jsonl").string();
  return o;
}

/// A flow `name` whose one node (`wait`) sleeps `ms`, then passes input x
/// through as output x.
inline std::string sleep_flow(const std::string& name, int ms) {
  return "flow: " + name +
         "\ninputs:\n  x: {type: string}\nnodes:\n  wait: {type: sleep, params: {ms: " +
         std::to_string(ms) + "}, inputs: {value: $inputs.x}}\noutputs: {x: wait.value}\n";
}

/// The spans in dir/FILE (none when a node never wrote it).
inline std::vector<tracing::span_record> spans_in(const flow_dir& dir, const std::string& file) {
  std::vector<tracing::span_record> spans;
  if (std::filesystem::exists(dir.path() / file))
    tracing::read_otlp_json_file((dir.path() / file).string(), spans);
  return spans;
}

/// The worker's address, as --workers takes it.
inline std::string at(const worker_process& w) { return "127.0.0.1:" + std::to_string(w.port()); }

}  // namespace weft::test
