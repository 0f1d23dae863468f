// `weft worker` processes for the cluster tests: started on loopback with
// the test key, each writing its spans to NAME.jsonl in a flow_dir.
#pragma once

#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "support/flow_dir.hpp"
#include "support/serve_process.hpp"
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

/// The worker's address, as --workers takes it.
inline std::string at(const worker_process& w) { return "127.0.0.1:" + std::to_string(w.port()); }

}  // namespace weft::test
