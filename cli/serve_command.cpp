// `weft serve --flows DIR`: the flows of one folder over HTTP until SIGTERM
// or SIGINT, then a graceful drain: stop accepting, let runs finish, flush
// the traces, exit 0.
#include <sys/resource.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <string_view>
#include <thread>

#include "cli/commands.hpp"
#include "cli/engine_setup.hpp"
#include "cli/interrupt.hpp"
#include "cli/run_inputs.hpp"
#include "cluster/wire.hpp"
#include "net/http_server.hpp"
#include "serve/service.hpp"

namespace weft::cli {

namespace {

// "127.0.0.1:8080", "[::1]:8080", ":8080" (loopback), "8080": the cluster's
// HOST:PORT parser, with the two short forms serve has always taken.
bool parse_listen(const std::string& text, std::string& host, std::uint16_t& port,
                  std::string& why) {
  auto digits = [](std::string_view s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
  };
  std::string full = text;
  if (digits(text)) full = "127.0.0.1:" + text;
  else if (text.size() > 1 && text.front() == ':' && digits(std::string_view(text).substr(1)))
    full = "127.0.0.1" + text;
  cluster::endpoint e;
  if (!cluster::parse_endpoint(full, e, why)) return false;
  host = e.host;
  port = e.port;
  return true;
}

// Each connection is a descriptor, and the usual soft limit (1024) is far
// below --max-connections; raise it to the hard limit, and say so when even
// that cannot hold the configured connections.
void raise_fd_limit(std::int64_t max_connections) {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0) return;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
  auto needed = static_cast<rlim_t>(max_connections) + 64;  // files, sockets of the sinks
  if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < needed)
    std::cerr << "weft serve: warning: the open-file limit (" << r.rlim_cur
              << ") is below --max-connections + 64 (" << needed
              << "); raise it (ulimit -n) or lower --max-connections\n";
}

}  // namespace

int serve_command(const serve_opts& o) {
  std::string host;
  std::uint16_t port = 0;
  std::string why;
  if (!parse_listen(o.listen, host, port, why)) {
    std::cerr << "weft: error: --listen: " << why
              << "; expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080\n";
    return exit_usage;
  }
  run_common rc;
  rc.trace_file = o.trace_file;
  rc.config_file = o.config_file;
  rc.workers = o.workers;
  rc.no_local_fallback = o.no_local_fallback;
  rc.retry_lost_runs = o.retry_lost_runs;
  auto opts = make_engine_options(rc);
  if (!opts) return exit_usage;
  opts->network = true;
  // Every model call of every run feeds /metrics' GenAI histograms.
  auto genai = std::make_shared<serve::genai_metrics>();
  opts->on_llm_call = [genai](const llm_call_record& c) { genai->record(c); };
  auto eng = start_engine(std::move(*opts));
  if (!eng) return exit_usage;

  serve::flow_catalog catalog;
  std::vector<std::string> errors;
  if (!catalog.load_dir(*eng, o.flows_dir, errors)) {
    for (auto& e : errors) std::cerr << e << '\n';
    std::cerr << "weft: error: not serving: fix the flows above (weft validate shows the same)\n";
    return exit_usage;
  }

  serve::service_config sc;
  sc.max_inflight = static_cast<std::size_t>(o.max_inflight);
  sc.max_id_bytes = static_cast<std::size_t>(o.max_id_bytes);
  sc.offload_body_bytes = static_cast<std::size_t>(o.offload_body_bytes);
  sc.max_stream_buffer_bytes = static_cast<std::size_t>(o.max_stream_buffer_bytes);
  sc.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  sc.background.history = static_cast<std::size_t>(o.run_history);
  sc.background.ttl = std::chrono::seconds(o.run_ttl_s);
  if (const char* key = std::getenv("WEFT_API_KEY")) sc.api_key = key;
  serve::service svc(*eng, std::move(catalog), sc);
  svc.attach_genai(genai);

  net::http_server_config hc;
  hc.host = host;
  hc.port = port;
  hc.limits.max_body_bytes = static_cast<std::size_t>(o.max_body_bytes);
  hc.limits.max_header_bytes = static_cast<std::size_t>(o.max_header_bytes);
  hc.limits.max_headers = static_cast<std::size_t>(o.max_headers);
  hc.max_connections = static_cast<std::size_t>(o.max_connections);
  hc.idle_timeout = std::chrono::milliseconds(o.idle_timeout_ms);
  hc.request_timeout = std::chrono::milliseconds(o.request_timeout_ms);
  hc.max_output_buffer_bytes = static_cast<std::size_t>(o.max_output_buffer_bytes);
  hc.max_buffered_bytes = static_cast<std::size_t>(o.max_buffered_bytes);
  hc.on_response = [&svc](int status) { svc.on_response(status); };

  install_signal_flag();
  raise_fd_limit(o.max_connections);
  auto server = net::http_server::start(engine_internals::system(*eng), hc,
                                        [&svc](net::server_request req, net::responder reply) {
                                          svc.handle(std::move(req), std::move(reply));
                                        });
  if (server) svc.attach_server(server->get());
  if (!server) {
    std::cerr << "weft: error: cannot listen on " << o.listen << ": "
              << engine_internals::system(*eng).render(server.error())
              << " (is another server on that port? pick another with --listen)\n";
    return exit_usage;
  }
  auto shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::cout << "weft serve: listening on http://" << shown_host << ':' << (*server)->port() << " ("
            << svc.flows().size() << " flow(s)";
  if (!eng->trace_file().empty()) std::cout << ", traces to " << eng->trace_file();
  if (!sc.api_key.empty()) std::cout << ", bearer auth on";
  std::cout << ")" << std::endl;

  while (!interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(50));

  std::cerr << "weft serve: draining (up to " << o.drain_timeout_ms << " ms)" << std::endl;
  svc.begin_drain();
  // One deadline for the whole stop: the drain (which resets connections
  // still open at its end) and the engine's wait for runs and the flush
  // share it, so the process exits within --drain-timeout-ms and a second.
  auto deadline = std::chrono::milliseconds(o.drain_timeout_ms);
  auto stop_by = std::chrono::steady_clock::now() + deadline;
  bool drained = (*server)->drain(deadline);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      stop_by - std::chrono::steady_clock::now());
  bool flushed = eng->shutdown(std::max(left, std::chrono::milliseconds(200)));
  server->reset();
  std::cerr << "weft serve: stopped"
            << (drained ? "" : " (some requests were cut off at the deadline)")
            << (flushed ? "" : " (the trace flush did not complete)") << std::endl;
  return exit_ok;
}

}  // namespace weft::cli
