// weft's embedding API: load flows, run them, add component types, shut down.
//
//   #include <weft/weft.hpp>
//
//   weft::engine eng;                                    // every core; traces to weft-traces.jsonl
//   auto loaded = eng.load_file("examples/hello.yaml");  // or load_string(...)
//   if (!loaded) { for (auto& e : loaded.errors) std::cerr << e.to_string() << '\n'; return 1; }
//   weft::run_options opt;
//   opt.session_id = "s-1";
//   auto result = eng.run(loaded.flow, {{"name", "World"}}, opt).get();
//   std::cout << result.outputs_json().dump() << '\n';
//   eng.shutdown();                                      // waits for runs, flushes traces
//
// Every run is its own tree of actors with its own trace; runs never share
// tracing state, so any number of them can run at once from any thread.
//
// This header names values (weft/value_fwd.hpp) without the JSON library;
// a file that builds inputs or reads outputs includes weft/value.hpp (or
// weft/weft.hpp, which has everything). The actor system behind the engine
// is reachable through weft/caf.hpp only.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "weft/api.hpp"
#include "weft/error.hpp"
#include "weft/flow.hpp"
#include "weft/log.hpp"
#include "weft/settings.hpp"
#include "weft/stats.hpp"
#include "weft/value_fwd.hpp"

namespace weft {

struct component_type;   // weft/component.hpp
struct llm_call_record;  // weft/component.hpp
struct run_event;        // weft/events.hpp

namespace tracing {
class sink;  // internal: a span sink written against weft's own interface
}  // namespace tracing

/// Mutual TLS between a front and its workers (engine_options::cluster_tls),
/// through CAF's OpenSSL module: PEM files of this node's certificate and
/// private key, and of the cluster CA's certificate. A peer whose
/// certificate that CA did not sign is refused before any run passes.
struct WEFT_API cluster_tls_files {
  std::string certificate_file;
  std::string key_file;
  std::string ca_file;
  std::string key_passphrase;  // when the key file is encrypted

  bool enabled() const {
    return !certificate_file.empty() || !key_file.empty() || !ca_file.empty();
  }
  /// WEFT_CLUSTER_TLS_CERT, _KEY, _CA and _KEY_PASSPHRASE.
  static cluster_tls_files from_env();
};

struct WEFT_API engine_options {
  /// Scheduler threads, sinks, sampling, content tracing (weft/settings.hpp).
  /// Defaults come from the environment with engine_options::from_env().
  engine_settings settings;
  /// Sinks beside the configured ones, written against weft's internal
  /// span sink interface (weft's tests use it); not a stable API yet.
  std::vector<std::shared_ptr<tracing::sink>> extra_sinks;
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
  /// Loads CAF's io middleman, for network actors hosted beside the engine
  /// (weft/caf.hpp; `weft serve`'s HTTP server is one).
  bool network = false;
  /// Run inputs may nest arrays and objects this deep; deeper is a bad
  /// input (no code that walks a value can then run off the stack).
  std::size_t max_value_depth = 64;
  /// Called for every model call a component makes (llm.chat, agent steps),
  /// on an engine thread: weft serve turns these into its GenAI metrics.
  /// Must not block. Empty: nothing is called.
  std::function<void(const llm_call_record&)> on_llm_call;

  /// `weft worker` nodes ("HOST:PORT", "[::1]:PORT") that run this engine's
  /// top-level runs: each goes to the least loaded one that has its flow,
  /// with the same content hash (flow::content_hash), and its spans stay in
  /// the run's one trace: this engine's sinks get a "dispatch FLOW" span
  /// (kind client) as the run's root, the worker's run span hangs from
  /// it, and when the worker is lost it is closed here with the error.
  /// An observed run's events (run_options::on_event) come back from the
  /// worker in order, before its result. A run of a flow with placed nodes
  /// (`placement: {tags}`) stays here and sends just those nodes to
  /// workers with the tags. Setting it loads the network layer. A bad
  /// address throws std::invalid_argument from the constructor.
  std::vector<std::string> workers;
  /// The key the workers check at the first message (from_env() reads
  /// WEFT_CLUSTER_KEY). A worker refuses a front without it.
  std::string cluster_key;
  /// TLS to the workers (and, in an engine behind `weft worker`, from its
  /// fronts): all three files or none; a missing or unreadable one throws
  /// std::invalid_argument from the constructor. from_env() reads
  /// WEFT_CLUSTER_TLS_CERT, WEFT_CLUSTER_TLS_KEY, WEFT_CLUSTER_TLS_CA and
  /// WEFT_CLUSTER_TLS_KEY_PASSPHRASE. Both ends must agree: a TLS front
  /// and a plain worker cannot talk.
  cluster_tls_files cluster_tls;
  /// With workers set but none that can take a run (none reachable, none
  /// with its flow): run it here (true), or fail it with the reason.
  bool local_fallback = true;
  /// A run whose worker is lost (killed, cut off, silent past the heartbeat
  /// timeout) goes once more to another worker instead of failing with
  /// "worker lost". At-least-once: its side effects may happen twice, and
  /// the result's warning says "retried after worker lost: ADDR (why)".
  bool retry_lost_runs = false;
  /// How often workers are asked for their load, and how long one may stay
  /// silent before it counts as lost.
  std::chrono::milliseconds heartbeat{500};
  std::chrono::milliseconds heartbeat_timeout{3000};

  /// Defaults overlaid with the environment; errors describe bad variables.
  static engine_options from_env(std::vector<std::string>& errors);
};

/// Cancels a run from outside it: a client that went away, a user who
/// pressed stop. Make one, put it in run_options::canceller, and call
/// cancel() from any thread, before or during the run: the run ends with
/// the error `why`, its open spans with status error and that message.
/// After the run has finished, cancel() does nothing.
class WEFT_API run_canceller {
 public:
  void cancel(std::string why);
  bool cancelled() const;

 private:
  friend class engine;
  // The engine's way to reach the run, set once it is started, and again
  // if it moves (a run no worker took, run here after all): a cancel that
  // came before is passed on at each attach.
  void attach(const std::function<void(std::string)>& fn);
  mutable std::mutex mu_;
  std::function<void(std::string)> fn_;
  std::string why_;  // what cancel() said
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

struct WEFT_API run_result {
  bool ok = false;
  std::string run_id;
  std::string trace_id;  // 32 hex characters
  std::string
      root_span_id;      // 16 hex characters (the run span; the dispatch span for a worker's run)
  bool sampled = false;  // whether the run recorded spans
  value_map outputs;
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
  /// The worker node that ran it (engine_options::workers), or empty when
  /// it ran in this process.
  std::string worker;
  /// The worker running it went away (`weft serve` answers 502).
  bool worker_lost = false;
  /// No worker could take it and local_fallback is off, or the workers run
  /// another version of its flow (`weft serve` answers 503).
  bool no_worker = false;

  /// The outputs as one JSON object.
  value outputs_json() const;
};

class WEFT_API engine {
 public:
  explicit engine(engine_options opts = {});
  ~engine();  // shutdown() with its default deadline, if not done yet
  engine(const engine&) = delete;
  engine& operator=(const engine&) = delete;

  /// Adds a component type (weft/component.hpp), or replaces one of the
  /// same name. Do it before loading the flows that use it. Returns what is
  /// wrong with the description (empty: added).
  std::vector<error> add_component(component_type type);
  /// The component types flows can use, built-in and added, by name.
  std::vector<std::string> component_types() const;

  load_result load_file(const std::string& path);
  load_result load_string(const std::string& text, const std::string& name = "<string>");

  /// Checks run inputs against the flow's declarations and adds the
  /// defaults of absent ones: one error per problem (code invalid_input,
  /// `field` the input), empty when all is well. run() does the same check;
  /// this is for callers that report problems before starting a run.
  std::vector<error> prepare_inputs(const flow& f, value_map& inputs) const;

  /// Starts a run. `done` is called exactly once, on an engine thread, with
  /// the result; it must not block. Bad inputs complete it at once.
  void run(const flow& f, value_map inputs, run_options opts, std::function<void(run_result)> done);
  /// Starts a run and returns a future of its result.
  std::future<run_result> run(const flow& f, value_map inputs, run_options opts = {});

  /// The exporter's counters (waits up to `timeout` for the exporter).
  exporter_stats stats(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// The same without waiting: `done` gets the counters on an engine thread,
  /// or nullopt if the exporter did not answer within `timeout`.
  void stats(std::function<void(std::optional<exporter_stats>)> done,
             std::chrono::milliseconds timeout = std::chrono::seconds(5));
  /// Where the file sink writes, or empty when there is none.
  const std::string& trace_file() const;
  /// Runs started and not yet completed.
  std::int64_t runs_in_flight() const;
  /// Waits up to `timeout` until `n` of engine_options::workers are
  /// connected (all of them when n is 0); false if they were not. Runs
  /// started before a worker connects go elsewhere, or run here.
  bool wait_for_workers(std::size_t n = 0,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

  /// Waits up to `deadline` for in-flight runs, cancels any left, then
  /// flushes every span to the sinks. Idempotent. Returns false if the flush
  /// did not complete.
  bool shutdown(std::chrono::milliseconds deadline = std::chrono::seconds(10));

 private:
  friend struct engine_access;     // weft/caf.hpp
  friend struct engine_internals;  // weft's own layers (not installed)
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace weft
