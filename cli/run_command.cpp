// `weft run FLOW`: one run; outputs on stdout, the trace's whereabouts on stderr.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/setup.hpp"

namespace weft::cli {

int run_command(const run_opts& o) {
  auto eng = make_engine(o);
  if (!eng) return exit_usage;
  auto flow = load_flow(*eng, o.flow_path);
  if (!flow) return exit_usage;
  auto inputs = make_inputs(*flow, o);
  if (!inputs) return exit_usage;
  if (auto err = eng->prepare_inputs(*flow, *inputs); !err.empty()) {
    std::cerr << "weft: error: " << err << '\n';
    return exit_usage;
  }
  run_options ro;
  ro.session_id = o.session_id;
  ro.user_id = o.user_id;
  ro.traceparent = o.traceparent;
  if (o.timeout_ms > 0) ro.timeout_ms = o.timeout_ms;

  install_signal_flag();
  auto fut = eng->run(flow, std::move(*inputs), ro);
  while (fut.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready) {
    // On SIGINT/SIGTERM the engine cancels the run; the span still ends
    // (as an error) and is flushed below.
    if (interrupted()) eng->shutdown(std::chrono::milliseconds(0));
  }
  auto r = fut.get();
  bool flushed = eng->shutdown();
  if (!r.warning.empty()) std::cerr << "weft: warning: " << r.warning << '\n';
  auto where = eng->trace_file().empty() ? std::string("no sink") : eng->trace_file();
  if (r.ok) std::cout << r.outputs_json().dump() << std::endl;
  else std::cerr << "weft: run failed: " << r.error << '\n';
  std::cerr << "weft: trace " << r.trace_id << " -> " << where
            << (flushed ? "" : " (flush incomplete)") << '\n';
  if (o.stats) std::cerr << eng->stats().to_string() << '\n';
  return r.ok ? exit_ok : exit_run_failed;
}

}  // namespace weft::cli
