// `weft run FLOW`: one run; outputs on stdout, the trace's whereabouts on stderr.
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>

#include "cli/commands.hpp"
#include "cli/engine_setup.hpp"
#include "cli/interrupt.hpp"
#include "cli/run_inputs.hpp"
#include "net/printable.hpp"

namespace weft::cli {
namespace {

// Where the run's trace went: every sink the engine built, in the order it
// built them (engine.cpp), e.g. "otlp http://127.0.0.1:4318/v1/traces,
// file weft-traces.jsonl". The file sink is the one the engine reports.
std::string sink_list(const engine& eng, const config::export_settings& ex) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (ex.otlp) add("otlp " + net::display_url(ex.otlp->endpoint));
  if (ex.langfuse) add("langfuse " + net::display_url(ex.langfuse->host));
  if (!eng.trace_file().empty()) add(eng.trace_file());
  return out.empty() ? "no sink" : out;
}

// The events of a --stream run, handed from the engine thread that reports
// them (which must not block on a slow stdout) to the thread that prints.
struct event_queue {
  std::mutex mu;
  std::condition_variable ready;
  std::deque<std::string> lines;

  void push(const run_event& e) {
    auto line = e.to_json().dump(-1, ' ', false, value::error_handler_t::replace);
    std::lock_guard<std::mutex> lk(mu);
    lines.push_back(std::move(line));
    ready.notify_one();
  }
  // Prints what is queued, waiting up to `wait` for something to arrive.
  void print(std::chrono::milliseconds wait) {
    std::deque<std::string> out;
    {
      std::unique_lock<std::mutex> lk(mu);
      ready.wait_for(lk, wait, [&] { return !lines.empty(); });
      out.swap(lines);
    }
    for (auto& l : out) std::cout << l << '\n';
    if (!out.empty()) std::cout.flush();
  }
};

}  // namespace

int run_command(const run_opts& o) {
  auto opts = make_engine_options(o);
  if (!opts) return exit_usage;
  const auto exporter_settings = opts->settings.exporter;
  auto eng = start_engine(std::move(*opts));
  if (!eng) return exit_usage;
  auto flow = load_flow(*eng, o.flow_path);
  if (!flow) return exit_usage;
  auto inputs = make_inputs(*flow, o);
  if (!inputs) return exit_usage;
  if (auto problems = eng->prepare_inputs(flow, *inputs); !problems.empty()) {
    for (const auto& p : problems) std::cerr << "weft: error: " << p.to_string() << '\n';
    return exit_usage;
  }
  run_options ro;
  ro.session_id = o.session_id;
  ro.user_id = o.user_id;
  ro.traceparent = o.traceparent;
  if (o.timeout_ms > 0) ro.timeout_ms = o.timeout_ms;

  auto events = std::make_shared<event_queue>();
  if (o.stream) ro.on_event = [events](const run_event& e) { events->push(e); };

  install_signal_flag();
  auto fut = eng->run(flow, std::move(*inputs), ro);
  while (fut.wait_for(std::chrono::milliseconds(o.stream ? 0 : 50)) != std::future_status::ready) {
    // On SIGINT/SIGTERM the engine cancels the run; the span still ends
    // (as an error) and is flushed below.
    if (interrupted()) eng->shutdown(std::chrono::milliseconds(0));
    if (o.stream) events->print(std::chrono::milliseconds(50));
  }
  if (o.stream) events->print(std::chrono::milliseconds(0));  // run_finished came before the result
  auto r = fut.get();
  bool flushed = eng->shutdown();
  if (!r.warning.empty()) std::cerr << "weft: warning: " << r.warning << '\n';
  auto where = sink_list(*eng, exporter_settings);
  if (r.ok) {
    if (!o.stream) std::cout << r.outputs_json().dump() << std::endl;  // else run_finished has them
  } else {
    std::cerr << "weft: run failed: " << r.error << '\n';
  }
  std::cerr << "weft: trace " << r.trace_id << " -> " << where
            << (flushed ? "" : " (flush incomplete)") << '\n';
  if (o.stats) std::cerr << eng->stats().to_string() << '\n';
  return r.ok ? exit_ok : exit_run_failed;
}

}  // namespace weft::cli
