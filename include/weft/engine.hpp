// weft's embedding API: load flows, run them, register components, shut down.
//
//   weft::engine eng;                                   // every core, tracing per env
//   auto flow = eng.load_file("examples/hello.yaml");   // or load_string(...)
//   if (!flow) { for (auto& d : flow.errors) std::cerr << d.to_string() << '\n'; }
//   weft::run_options opt;
//   opt.session_id = "s-1";
//   auto result = eng.run(flow.plan, {{"name", "World"}}, opt).get();
//   std::cout << result.outputs_json() << '\n';
//   eng.shutdown();                                     // waits for runs, flushes traces
//
// Every run is its own tree of actors with its own trace; runs never share
// tracing state, so any number of them can run at once from any thread.
// To add a component type, fill a flows::component_descriptor and call
// `eng.components().add(...)` before loading flows that use it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "export/exporter.hpp"
#include "weft/log.hpp"
#include "config/settings.hpp"
#include "flows/plan.hpp"
#include "flows/registry.hpp"
#include "flows/value.hpp"
#include "weft/component.hpp"
#include "weft/events.hpp"

namespace weft {

struct engine_options {
  /// Scheduler threads, sinks, sampling, content tracing. Defaults come from
  /// the environment when built with engine_options::from_env().
  config::engine_settings settings;
  /// Extra sinks, e.g. ones an embedder wrote (owned by the engine).
  std::vector<std::unique_ptr<tracing::sink>> extra_sinks;
  /// When false ("tracing off"), no sink is created, not even the default
  /// file sink, and every run is unsampled, whatever its traceparent says:
  /// no span is built at all (exporter_stats::spans_received stays 0). Runs
  /// still get a trace id and hand on a traceparent with the sampled flag
  /// off, so that downstream services see one trace.
  bool tracing = true;
  /// Where the engine's own messages go (include/weft/log.hpp): a trace
  /// backend failing, spans spooled or dropped. Secrets the engine knows of
  /// (sink keys, header values) are masked first. Default: stderr.
  log_fn log = log_to_stderr;
  /// Loads CAF's io middleman, which net::http_server (`weft serve`) needs.
  bool network = false;
  /// Run inputs may nest arrays and objects this deep; deeper is a bad
  /// input (no code that walks a value can then run off the stack).
  std::size_t max_value_depth = 64;
  /// Called for every model call a component makes (llm.chat, agent steps),
  /// on an engine thread: weft serve turns these into its GenAI metrics.
  /// Must not block. Empty: nothing is called.
  std::function<void(const llm_call_record&)> on_llm_call;

  /// Defaults overlaid with the environment; errors describe bad variables.
  static engine_options from_env(std::vector<std::string>& errors);
};

/// Cancels a run from outside it: a client that went away, a user who
/// pressed stop. Make one, put it in run_options::canceller, and call
/// cancel() from any thread, before or during the run: the run ends with
/// the error `why`, its open spans with status error and that message.
/// After the run has finished, cancel() does nothing.
class run_canceller {
 public:
  void cancel(std::string why);
  bool cancelled() const;

 private:
  friend class engine;
  // The engine's way to reach the run, set once it is started.
  void attach(std::function<void(std::string)> fn);
  mutable std::mutex mu_;
  std::function<void(std::string)> fn_;
  std::optional<std::string> pending_;  // cancel() came before attach()
  bool cancelled_ = false;
};

struct run_options {
  std::string session_id;
  std::string user_id;
  /// A W3C traceparent: the run joins that trace as a child of that span.
  /// An invalid one is ignored with a warning, and the run starts a new trace.
  std::string traceparent;
  /// The W3C tracestate that came with `traceparent` (vendor data); it is
  /// kept on every span of the run. Ignored without a valid traceparent.
  std::string tracestate;
  /// Overrides the flow's run-level timeout_ms (0 or unset: the flow's).
  std::optional<std::int64_t> timeout_ms;
  /// Receives the run's events in order (weft/events.hpp): nodes starting,
  /// chunks they emit, nodes finishing, the run finishing. Called on an
  /// engine thread; must not block. Empty: no event is built.
  std::function<void(const run_event&)> on_event;
  /// Lets the caller cancel this run (see run_canceller). Empty: only the
  /// run's own timeouts and engine shutdown end it early.
  std::shared_ptr<run_canceller> canceller;
};

struct run_result {
  bool ok = false;
  std::string run_id;
  std::string trace_id;        // 32 hex characters
  std::string root_span_id;    // 16 hex characters (the run span)
  bool sampled = false;        // whether the run recorded spans
  flows::value_map outputs;
  /// On failure: the message, the failing node (empty for run-level errors),
  /// and whether the cause was the run-level timeout.
  std::string error;
  std::string failed_node;
  bool timed_out = false;
  /// A problem with the request that did not stop the run (an invalid
  /// traceparent), for the caller to show as a warning.
  std::string warning;
  double duration_ms = 0;
  /// Tokens the run's model calls used, child runs included.
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;

  /// The outputs as one JSON object.
  flows::value outputs_json() const { return flows::to_object(outputs); }
};

/// One thing wrong with a run's inputs: the input at fault (empty when the
/// problem is not about one input) and what is wrong, in words.
struct input_problem {
  std::string input;
  std::string message;
};

/// A loaded flow, or the errors that stopped it from loading.
struct load_result {
  std::shared_ptr<const flows::plan> plan;
  flows::diagnostics errors;
  explicit operator bool() const { return plan != nullptr; }
};

class engine {
 public:
  explicit engine(engine_options opts = {});
  ~engine();  // shutdown() with its default deadline, if not done yet
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// The component registry; add types before loading flows that use them.
  flows::registry& components();

  load_result load_file(const std::string& path);
  load_result load_string(const std::string& text, const std::string& name = "<string>");

  /// Checks run inputs against the flow's declarations and applies defaults.
  /// Returns the error ("input 'n': expected integer, got string") or empty.
  std::string prepare_inputs(const flows::plan& flow, flows::value_map& inputs) const;
  /// The same check, one problem per entry, for callers that report each
  /// field on its own (weft serve's error details). Empty when all is well.
  std::vector<input_problem> check_inputs(const flows::plan& flow,
                                          flows::value_map& inputs) const;

  /// Starts a run. `done` is called exactly once, on an engine thread, with
  /// the result; it must not block. Bad inputs complete it at once.
  void run(std::shared_ptr<const flows::plan> flow, flows::value_map inputs, run_options opts,
           std::function<void(run_result)> done);
  /// Starts a run and returns a future of its result.
  std::future<run_result> run(std::shared_ptr<const flows::plan> flow, flows::value_map inputs,
                              run_options opts = {});

  /// The exporter's counters (waits up to `timeout` for the exporter).
  exporting::exporter_stats stats(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The same without waiting: `done` gets the counters on an engine thread,
  /// or nullopt if the exporter did not answer within `timeout`.
  void stats(std::function<void(std::optional<exporting::exporter_stats>)> done,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Where the file sink writes, or empty when there is none.
  const std::string& trace_file() const;
  /// Runs started and not yet completed.
  std::int64_t runs_in_flight() const;

  /// Waits up to `deadline` for in-flight runs, cancels any left, then
  /// flushes every span to the sinks. Idempotent. Returns false if the flush
  /// did not complete.
  bool shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(10));

  /// The actor system runs and the exporter live in, for hosting other
  /// actors beside them (the HTTP server's brokers, with `network` set).
  caf::actor_system& system();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace weft

namespace weft::actors {
// The exporter's counters moved to export/ (weft::exporting); the engine
// hands them out, so they stay reachable under their old names too.
using exporting::exporter_stats;
using exporting::sink_stats;
}  // namespace weft::actors
