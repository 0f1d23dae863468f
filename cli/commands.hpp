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
  // The cluster (engine_options::workers): comma-separated HOST:PORT.
  std::string workers;
  bool no_local_fallback = false;
  bool retry_lost_runs = false;
};

struct run_opts : run_common {
  std::string traceparent;
  bool stats = false;
  bool stream = false;  // print the run's events as JSON lines as they happen
};

struct load_opts : run_common {
  std::int64_t runs = 100;
  std::int64_t concurrency = 10;
  bool json = false;
  bool no_progress = false;
  // With --url, the runs go to a `weft serve` (cli/load_url_command.cpp).
  std::string url;                    // the server's base URL
  std::string flow_name;              // --flow: the server's name for the flow
  std::int64_t audit_wait_ms = 5000;  // how long the server's (or workers') trace files may lag
  // In-process with --workers: the workers' trace files, audited with ours.
  std::string audit_trace_files;             // comma-separated
  std::int64_t http_timeout_ms = 0;          // 0: --timeout-ms + 10 s, or 60 s
  std::string api_key_env = "WEFT_API_KEY";  // env var with the bearer key
  bool stream = false;  // --stream: SSE runs, or streamed chat completions with --openai
  bool openai = false;  // --openai: POST /v1/chat/completions with model = --flow
};

struct trace_show_opts {
  /// One file, or several read as one (a front's and its workers': a
  /// cluster run's trace is spread over them).
  std::vector<std::string> paths;
  std::string trace_id;
  std::int64_t last = 0;
  bool expand = false;  // every map item, not the first few
};

struct serve_opts {
  std::string flows_dir;
  std::string listen = "127.0.0.1:8080";
  std::string trace_file;
  std::string config_file;
  std::int64_t max_body_bytes = 1 << 20;
  std::int64_t max_header_bytes = 16 * 1024;
  std::int64_t max_headers = 100;
  std::int64_t max_inflight = 10000;
  std::int64_t max_connections = 10000;
  std::int64_t idle_timeout_ms = 30000;
  std::int64_t request_timeout_ms = 10000;
  std::int64_t drain_timeout_ms = 10000;
  std::int64_t max_output_buffer_bytes = 1 << 20;
  std::int64_t max_buffered_bytes = std::int64_t{256} << 20;
  std::int64_t max_id_bytes = 256;
  std::int64_t offload_body_bytes = 16 * 1024;
  std::int64_t max_stream_buffer_bytes = 1 << 20;
  std::int64_t heartbeat_ms = 15000;
  std::int64_t run_history = 10000;
  std::int64_t run_ttl_s = 3600;
  std::string workers;  // as run_common's
  bool no_local_fallback = false;
  bool retry_lost_runs = false;
};

int run_command(const run_opts& o);
int validate_command(const std::vector<std::string>& files);
/// `weft worker`: a cluster node that runs what fronts send it.
struct worker_opts {
  std::string flows_dir;
  std::string listen = "127.0.0.1:7400";
  std::string name;  // in status and replies; default: the listen address
  std::string tags;  // comma-separated
  std::int64_t max_inflight = 0;
  std::string trace_file;
  std::string config_file;
  std::int64_t drain_timeout_ms = 10000;
  // TLS (cluster/tls.hpp): override WEFT_CLUSTER_TLS_CERT, _KEY and _CA.
  std::string tls_cert, tls_key, tls_ca;
  std::string probe;  // HOST:PORT of the HTTP readiness probe; empty: none
};

int worker_command(const worker_opts& o);
int load_command(const load_opts& o);
int load_url_command(const load_opts& o);
/// `weft load`: load_command for a FLOW file, load_url_command for --url
/// and --flow; neither, both, or half of the latter is a usage error.
int load_dispatch(const load_opts& o);
int trace_show_command(const trace_show_opts& o);
int serve_command(const serve_opts& o);

}  // namespace weft::cli
