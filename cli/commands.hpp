// The `weft` subcommands. Each takes its parsed options and returns the
// process exit code: 0 success, 1 the run failed, 2 bad usage, flow or inputs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weft::cli {

enum exit_code : int { exit_ok = 0, exit_run_failed = 1, exit_usage = 2 };

/// Options shared by the commands that run flows.
struct run_common {
  std::string flow_path;
  std::vector<std::string> inputs;  // KEY=VALUE
  std::string inputs_file;          // a JSON object; "-" is stdin
  std::string session_id;
  std::string user_id;
  std::string trace_file;
  std::string config_file;
  std::int64_t timeout_ms = 0;
};

struct run_opts : run_common {
  std::string traceparent;
  bool stats = false;
};

struct load_opts : run_common {
  std::int64_t runs = 100;
  std::int64_t concurrency = 10;
  bool json = false;
  bool no_progress = false;
};

struct trace_show_opts {
  std::string path;
  std::string trace_id;
  std::int64_t last = 0;
};

int run_command(const run_opts& o);
int validate_command(const std::vector<std::string>& files);
int load_command(const load_opts& o);
int trace_show_command(const trace_show_opts& o);

}  // namespace weft::cli
