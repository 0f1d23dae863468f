// weft — run, validate and load-test flows, and read their traces.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "weft/version.hpp"

namespace {

// Where runs go: `weft worker` nodes (WEFT_CLUSTER_KEY is the key).
void add_cluster(CLI::App* c, std::string& workers, bool& no_fallback, bool& retry) {
  c->add_option("--workers", workers,
                "Send runs to these `weft worker` nodes: HOST:PORT,... (key: WEFT_CLUSTER_KEY)");
  c->add_flag("--no-local-fallback", no_fallback,
              "With --workers: fail a run no worker can take, instead of running it here");
  c->add_flag("--retry-lost-runs", retry,
              "With --workers: a run whose worker is lost goes once to another (at-least-once)");
}

void add_run_common(CLI::App* c, weft::cli::run_common& o) {
  c->add_option("flow", o.flow_path, "Flow file (YAML or JSON)")->required();
  c->add_option("-i,--input", o.inputs,
                "Run input KEY=VALUE (repeatable; converted to the declared type)");
  c->add_option("--inputs", o.inputs_file, "Run inputs as one JSON object, from FILE or - (stdin)");
  c->add_option("--session-id", o.session_id, "Session id, put on every span");
  c->add_option("--user-id", o.user_id, "User id, put on every span");
  c->add_option(
      "--trace-file", o.trace_file,
      "Write spans as OTLP/JSON lines to PATH (env WEFT_TRACE_FILE; default weft-traces.jsonl)");
  c->add_option("--timeout-ms", o.timeout_ms, "Run-level timeout in ms (overrides the flow's)")
      ->check(CLI::NonNegativeNumber);
  c->add_option("--config", o.config_file, "Settings file (YAML); env and flags override it");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weft: a flow engine on actors, with one trace per run"};
  app.require_subcommand(1);
  app.set_version_flag("--version", weft::version_string);

  weft::cli::run_opts run;
  auto* run_cmd = app.add_subcommand("run", "Run a flow once and print its outputs as JSON");
  add_run_common(run_cmd, run);
  add_cluster(run_cmd, run.workers, run.no_local_fallback, run.retry_lost_runs);
  run_cmd->add_option("--traceparent", run.traceparent, "W3C traceparent of the caller's span");
  run_cmd->add_flag("--stats", run.stats, "Print the exporter's counters on stderr");
  run_cmd->add_flag("--stream", run.stream,
                    "Print each event (node_started, chunk, node_finished, run_finished) as a JSON "
                    "line on stdout as it happens; the last line carries the outputs");

  std::vector<std::string> validate_files;
  auto* validate_cmd = app.add_subcommand("validate", "Check flow files; print every error");
  validate_cmd->add_option("flows", validate_files, "Flow files")->required();

  weft::cli::load_opts load;
  auto* load_cmd = app.add_subcommand("load", "Run a flow many times at once and audit the traces");
  add_run_common(load_cmd, load);
  add_cluster(load_cmd, load.workers, load.no_local_fallback, load.retry_lost_runs);
  load_cmd->add_option("--audit-trace-files", load.audit_trace_files,
                       "With --workers: the workers' trace files (PATH,...), read with this one "
                       "so that the audit sees each run's whole trace");
  load_cmd->add_option("--runs", load.runs, "Number of runs")->check(CLI::PositiveNumber);
  load_cmd->add_option("--concurrency", load.concurrency, "Runs in flight at most")
      ->check(CLI::PositiveNumber);
  load_cmd->add_flag("--json", load.json, "Print one JSON summary object");
  load_cmd->add_flag("--no-progress", load.no_progress, "No progress bar");
  // With --url the flow lives on the server; load_dispatch checks the mix.
  load_cmd->get_option("flow")->required(false)->description(
      "Flow file (YAML or JSON) to run in-process; omit with --url");
  load_cmd->get_option("--trace-file")
      ->description(
          "Write spans as OTLP/JSON lines to PATH, truncated first (without it: append to "
          "WEFT_TRACE_FILE or weft-traces.jsonl); with --url: the server's trace file to audit");
  load_cmd->add_option("--url", load.url,
                       "Load a `weft serve` at this base URL (http://HOST:PORT)");
  load_cmd->add_option("--flow", load.flow_name,
                       "With --url: the name of the server's flow to run");
  load_cmd
      ->add_option("--audit-wait-ms", load.audit_wait_ms,
                   "With --url or --audit-trace-files: wait up to this long for the server's or "
                   "the workers' trace files to hold all spans")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  load_cmd
      ->add_option("--http-timeout-ms", load.http_timeout_ms,
                   "With --url: per-request timeout (default --timeout-ms + 10000, or 60000)")
      ->check(CLI::NonNegativeNumber);
  load_cmd
      ->add_option("--api-key-env", load.api_key_env,
                   "With --url: env variable whose value is sent as 'Authorization: Bearer'")
      ->capture_default_str();
  load_cmd->add_flag(
      "--stream", load.stream,
      "With --url: stream each run as Server-Sent Events and report the time to the first"
      " event, events/s and whether every stream ended in run_finished ([DONE] with --openai)");
  load_cmd->add_flag(
      "--openai", load.openai,
      "With --url: send OpenAI chat completions (POST /v1/chat/completions, model = --flow,"
      " the user message from -i prompt=TEXT) to weft or any OpenAI-compatible server");

  weft::cli::serve_opts serve;
  auto* serve_cmd = app.add_subcommand("serve", "Serve the flows of a folder over HTTP");
  serve_cmd->add_option("--flows", serve.flows_dir, "Folder of flow files (*.yaml, *.yml, *.json)")
      ->required();
  serve_cmd->add_option("--listen", serve.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  serve_cmd->add_option("--trace-file", serve.trace_file,
                        "Write spans as OTLP/JSON lines to PATH (env WEFT_TRACE_FILE)");
  serve_cmd->add_option("--config", serve.config_file,
                        "Settings file (YAML); env and flags override it");
  serve_cmd
      ->add_option("--max-body-bytes", serve.max_body_bytes, "Largest request body (413 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--max-header-bytes", serve.max_header_bytes,
                   "Largest request line + headers (431 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--max-headers", serve.max_headers,
                   "Most header fields in a request (431 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--max-inflight", serve.max_inflight,
                   "Runs in flight at most (503 with Retry-After above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option(
          "--max-stream-buffer-bytes", serve.max_stream_buffer_bytes,
          "Event-stream bytes held for a slow reader before its stream ends with an error event")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--heartbeat-ms", serve.heartbeat_ms,
                   "A comment line on every open event stream this often")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--run-history", serve.run_history, "Background runs kept at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--run-ttl-s", serve.run_ttl_s, "Seconds a finished background run is kept")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd->add_option("--max-connections", serve.max_connections, "Open connections at most")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--idle-timeout-ms", serve.idle_timeout_ms,
                   "Close a keep-alive connection idle this long")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--request-timeout-ms", serve.request_timeout_ms,
                   "A started request must arrive in full within this (408)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--drain-timeout-ms", serve.drain_timeout_ms,
                   "On SIGTERM/SIGINT, wait this long for runs and the trace flush")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  serve_cmd
      ->add_option("--max-output-buffer-bytes", serve.max_output_buffer_bytes,
                   "Unsent answer bytes per connection before it stops reading requests")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--max-buffered-bytes", serve.max_buffered_bytes,
                   "Request bodies + unsent answers over all connections (503 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--max-id-bytes", serve.max_id_bytes, "Longest session_id / user_id (400 above)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  serve_cmd
      ->add_option("--offload-body-bytes", serve.offload_body_bytes,
                   "Parse run bodies this large off the I/O thread (0: all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  add_cluster(serve_cmd, serve.workers, serve.no_local_fallback, serve.retry_lost_runs);

  weft::cli::worker_opts worker;
  auto* worker_cmd = app.add_subcommand(
      "worker", "Run a cluster node: the flows of a folder, for fronts that know WEFT_CLUSTER_KEY");
  worker_cmd
      ->add_option("--flows", worker.flows_dir, "Folder of flow files (*.yaml, *.yml, *.json)")
      ->required();
  worker_cmd
      ->add_option("--listen", worker.listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  worker_cmd->add_option("--name", worker.name, "Its name in fronts' logs (default: the address)");
  worker_cmd->add_option("--tags", worker.tags, "Comma-separated tags (gpu,eu) for placement");
  worker_cmd
      ->add_option("--max-inflight", worker.max_inflight,
                   "Runs at once at most; fronts keep the rest in line (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  worker_cmd->add_option("--trace-file", worker.trace_file,
                         "Where its spans go (default: WEFT_TRACE_FILE or weft-traces.jsonl)");
  worker_cmd->add_option("--config", worker.config_file, "Settings file (YAML)");
  worker_cmd
      ->add_option("--drain-timeout-ms", worker.drain_timeout_ms,
                   "On SIGTERM, how long runs may take to finish")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  worker_cmd->add_option("--tls-cert", worker.tls_cert,
                         "TLS: this worker's certificate, PEM (env WEFT_CLUSTER_TLS_CERT); fronts "
                         "then need TLS too (the same variables)");
  worker_cmd->add_option("--tls-key", worker.tls_key,
                         "TLS: its private key, PEM (env WEFT_CLUSTER_TLS_KEY)");
  worker_cmd->add_option("--tls-ca", worker.tls_ca,
                         "TLS: the cluster's CA certificate, PEM; fronts must show a certificate "
                         "it signed (env WEFT_CLUSTER_TLS_CA)");
  worker_cmd->add_option("--probe", worker.probe,
                         "HOST:PORT for an HTTP readiness probe: GET /healthz, GET /readyz (503 "
                         "while draining; both with its load as JSON)");

  weft::cli::trace_show_opts show;
  auto* trace_cmd = app.add_subcommand("trace", "Read trace files");
  trace_cmd->require_subcommand(1);
  auto* show_cmd = trace_cmd->add_subcommand("show", "Print traces as indented trees");
  show_cmd
      ->add_option("paths", show.paths,
                   "OTLP/JSON lines file(s): several are read as one (a front's and its "
                   "workers')")
      ->required();
  show_cmd->add_option("--trace-id", show.trace_id, "Only this trace (32 hex characters)");
  show_cmd->add_option("--last", show.last, "Only the last N traces")->check(CLI::PositiveNumber);
  show_cmd->add_flag("--expand", show.expand, "Every map item (default: the first 5 of each map)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::Success& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return weft::cli::exit_usage;
  }

  if (*run_cmd) return weft::cli::run_command(run);
  if (*validate_cmd) return weft::cli::validate_command(validate_files);
  if (*load_cmd) return weft::cli::load_dispatch(load);
  if (*show_cmd) return weft::cli::trace_show_command(show);
  if (*serve_cmd) return weft::cli::serve_command(serve);
  if (*worker_cmd) return weft::cli::worker_command(worker);
  return weft::cli::exit_usage;
}
