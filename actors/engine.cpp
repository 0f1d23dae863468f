// weft::engine: the embedding API over the actor system.
#include "weft/engine.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <unordered_map>

#include <caf/io/middleman.hpp>

#include "actors/engine_cluster.hpp"
#include "actors/engine_internals.hpp"
#include "actors/placed_node.hpp"
#include "cluster/tls.hpp"
#include "config/settings.hpp"
#include "export/exporter.hpp"
#include "flows/plan.hpp"
#include "weft/caf.hpp"
#include "weft/component.hpp"
#include "weft/events.hpp"
#include "weft/version.hpp"

#include "actors/messages.hpp"
#include "actors/run_actor.hpp"
#include "actors/run_context.hpp"
#include "actors/run_secrets.hpp"
#include "components/register.hpp"
#include "export/http_sink.hpp"
#include "flows/catalog.hpp"
#include "flows/inputs.hpp"
#include "flows/parser.hpp"
#include "net/http_client.hpp"
#include "tracing/file_sink.hpp"
#include "tracing/redaction.hpp"
#include "tracing/sampler.hpp"
#include "tracing/spool.hpp"
#include "tracing/traceparent.hpp"

namespace weft {

engine_options engine_options::from_env(std::vector<std::string>& errors) {
  engine_options o;
  config::apply_env(o.settings, errors);
  if (const char* key = std::getenv("WEFT_CLUSTER_KEY")) o.cluster_key = key;
  o.cluster_tls = cluster_tls_files::from_env();
  return o;
}

cluster_tls_files cluster_tls_files::from_env() {
  cluster_tls_files t;
  auto read = [](const char* name, std::string& into) {
    if (const char* v = std::getenv(name)) into = v;
  };
  read("WEFT_CLUSTER_TLS_CERT", t.certificate_file);
  read("WEFT_CLUSTER_TLS_KEY", t.key_file);
  read("WEFT_CLUSTER_TLS_CA", t.ca_file);
  read("WEFT_CLUSTER_TLS_KEY_PASSPHRASE", t.key_passphrase);
  return t;
}

struct engine::impl {
  config::engine_settings settings;
  std::size_t max_value_depth = 64;
  // engine_options::tracing. Off: every run is unsampled, so no span is
  // built at all, rather than built, shipped to the exporter and dropped
  // there for want of a sink.
  bool tracing = true;
  flows::registry registry;  // the built-in families: components::register_all
  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  exporting::exporter_actor exporter;
  net::http_client_actor http;  // the http_client, when an HTTP sink exists
  // The client for node_context::http, spawned on first use. A second
  // client rather than `http`: component traffic (thousands of slow LLM
  // streams) must not take the connections, the per-host slots or the
  // worker thread that span uploads need, and its limits are its own
  // (WEFT_HTTP_*). It also stops before the final flush, which `http` serves.
  std::shared_ptr<actors::component_http> component_http;
  std::function<void(const llm_call_record&)> on_llm_call;  // engine_options::on_llm_call
  // Runs in flight, for cancelling them at shutdown. Runs are spawned
  // directly from the calling thread (no central actor in their path); this
  // map is touched twice per run, under a mutex held for an insert or erase.
  std::mutex runs_mu;
  std::unordered_map<std::uint64_t, actors::run_actor> runs;
  std::string trace_file;
  std::atomic<std::int64_t> in_flight{0};
  std::atomic<std::uint64_t> next_id{1};
  std::mutex mu;
  std::condition_variable idle;
  // Read on every run() without the mutex; written once, under it.
  std::atomic<bool> shut_down{false};
  exporting::exporter_stats final_stats;  // taken at shutdown, after the flush
  // engine_options::workers: where top-level runs go, when set.
  // Shared with runs only weakly (their placed nodes): shutdown ends it.
  std::shared_ptr<cluster::dispatcher> dispatcher;
  std::size_t worker_count = 0;
  bool local_fallback = true;

  // What every top-level run of this engine gets from it.
  void equip(actors::run_job& job) {
    job.content = settings.tracing.content;
    job.max_value_depth = max_value_depth;
    job.exporter = exporter;
    job.http = component_http;
    job.llm = std::make_shared<actors::llm_tally>();
    if (on_llm_call) job.llm->on_call = &on_llm_call;
    job.placer = dispatcher;
  }

  // A run that no longer counts as in flight.
  void release_one() {
    if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(mu);
      idle.notify_all();
    }
  }

  // Starts a prepared run here, as a tree of actors. `counted`: in_flight
  // already has it (a run that came back from dispatch to run locally).
  void launch(std::shared_ptr<actors::run_job> job, const std::shared_ptr<run_canceller>& canceller,
              bool counted) {
    auto id = next_id.fetch_add(1, std::memory_order_relaxed);
    if (!counted) in_flight.fetch_add(1, std::memory_order_relaxed);
    job->released = [this, id] {
      {
        std::lock_guard<std::mutex> lk(runs_mu);
        runs.erase(id);
      }
      release_one();
    };
    auto run = actors::spawn_run(*sys, std::move(job));
    {
      std::lock_guard<std::mutex> lk(runs_mu);
      runs.emplace(id, run);
    }
    caf::anon_send(run, actors::start_atom::value);
    if (canceller) {
      // Weak: a canceller kept after the run must not keep its actor.
      auto addr = caf::actor_cast<caf::actor_addr>(run);
      canceller->attach([addr](std::string why) {
        if (auto a = caf::actor_cast<actors::run_actor>(addr))
          caf::anon_send(a, actors::cancel_atom::value, std::move(why));
      });
    }
  }

  // Sends a prepared run to a worker. It comes back here when no worker
  // can take it and local_fallback is on.
  void dispatch(std::shared_ptr<actors::run_job> job, std::shared_ptr<run_canceller> canceller) {
    in_flight.fetch_add(1, std::memory_order_relaxed);
    // The front's own span: the worker's run span hangs from it, and it
    // is what the trace keeps of a run whose worker died with it.
    std::shared_ptr<tracing::span_record> span;
    if (job->ctx.sampled)
      span = std::make_shared<tracing::span_record>(actors::open_dispatch_span(*job));
    auto req = actors::make_run_request(*job);
    if (span) req.trace.parent_span_id = span->id.to_hex();
    if (canceller) {
      // Weak: a canceller kept after the run must not keep the dispatcher.
      canceller->attach([d = std::weak_ptr<cluster::dispatcher>(dispatcher),
                         run_id = job->run_id](std::string why) {
        if (auto p = d.lock()) p->cancel(run_id, {}, std::move(why));
      });
    }
    // An observed run's events come back from its worker, in order, on the
    // dispatcher's thread; run_finished among them when the worker ran it.
    cluster::dispatcher::event_fn on_event;
    auto finished_seen = std::make_shared<bool>(false);
    if (job->on_event)
      on_event = [job, finished_seen](const std::string& json) {
        run_event ev;
        if (!actors::event_from_json(json, ev)) return;
        if (ev.type == run_event::kind::run_finished) *finished_seen = true;
        try {
          job->on_event(ev);
        } catch (...) {
          // The observer's bug must not end the run (as with local runs).
        }
      };
    dispatcher->submit(
        std::move(req),
        [this, job = std::move(job), canceller = std::move(canceller), span, finished_seen](
            cluster::run_reply r, cluster::dispatch_failure why) {
          if (why == cluster::dispatch_failure::no_worker && local_fallback &&
              !shut_down.load(std::memory_order_acquire)) {
            // Ran here after all: the local run span is the root, and the
            // dispatch span, never sent, is dropped.
            launch(job, canceller, true);
            return;
          }
          auto result = actors::result_from_reply(std::move(r), why);
          if (!job->warning.empty())
            result.warning = job->warning + (result.warning.empty() ? "" : "; " + result.warning);
          if (span) {
            actors::close_dispatch_span(*span, result);
            result.root_span_id = span->id.to_hex();
            if (result.trace_id.empty()) result.trace_id = span->trace.to_hex();
            caf::anon_send(exporter, std::vector<tracing::span_record>{std::move(*span)});
          }
          // A run the worker never finished (lost, refused, not sent) still
          // ends its observer's stream, with the error.
          if (job->on_event && !*finished_seen) {
            run_event ev;
            ev.type = run_event::kind::run_finished;
            ev.status = result.ok ? "ok" : "error";
            ev.duration_ms = result.duration_ms;
            ev.error = result.error;
            if (result.ok) ev.outputs = result.outputs;
            try {
              job->on_event(ev);
            } catch (...) {
            }
          }
          if (job->done) job->done(std::move(result));
          release_one();
        },
        std::move(on_event));
  }

  // What this engine hands component factories while a flow loads.
  flows::component_services services() const {
    flows::component_services svc;
    svc.settings = settings;
    svc.max_value_depth = max_value_depth;
    return svc;
  }
};

engine::engine(engine_options opts) : impl_(std::make_unique<impl>()) {
  auto& m = *impl_;
  m.settings = opts.settings;
  m.max_value_depth = opts.max_value_depth;
  m.tracing = opts.tracing;
  m.on_llm_call = std::move(opts.on_llm_call);
  components::register_all(m.registry);
  m.cfg = std::make_unique<caf::actor_system_config>();
  if (m.settings.threads > 0)
    m.cfg->set("scheduler.max-threads", static_cast<std::size_t>(m.settings.threads));
  // Workers are checked before anything starts: a typo throws here, not
  // as runs that silently stay local.
  std::vector<cluster::endpoint> workers_at;
  for (std::size_t i = 0; i < opts.workers.size(); ++i) {
    cluster::endpoint e;
    std::string why;
    if (!cluster::parse_endpoint(opts.workers[i], e, why))
      throw std::invalid_argument("engine_options::workers[" + std::to_string(i) + "]: " + why);
    workers_at.push_back(std::move(e));
  }
  cluster::add_types(*m.cfg);
  if (opts.cluster_tls.enabled()) {
    cluster::tls_files tls{opts.cluster_tls.certificate_file, opts.cluster_tls.key_file,
                           opts.cluster_tls.ca_file, opts.cluster_tls.key_passphrase};
    std::string why;
    if (!cluster::check_tls(tls, why))
      throw std::invalid_argument("engine_options::cluster_tls: " + why);
    cluster::use_tls(*m.cfg, tls);
  } else if (opts.network || !workers_at.empty()) {
    m.cfg->load<caf::io::middleman>();
  }
  m.sys = std::make_unique<caf::actor_system>(*m.cfg);
  {
    net::http_client_config hc;
    hc.max_total_connections = static_cast<long>(m.settings.http.max_connections);
    hc.max_connections_per_host = static_cast<long>(m.settings.http.max_host_connections);
    hc.max_response_bytes = static_cast<std::size_t>(m.settings.http.max_response_bytes);
    hc.stream_window_bytes = static_cast<std::size_t>(m.settings.http.stream_window_bytes);
    m.component_http = std::make_shared<actors::component_http>(
        [sys = m.sys.get(), hc] { return net::spawn_http_client(*sys, hc); });
  }

  // Only configured sinks exist (DESIGN invariant 3). The file sink is also
  // the default when nothing else is configured: a run's trace must always
  // land somewhere findable.
  std::vector<exporting::sink_worker> workers;
  // The embedder's log, behind a mask of the secrets the sinks were given:
  // a backend's error text may quote what it was sent.
  auto known = std::make_shared<tracing::secret_set>();
  if (const auto& lf = m.settings.exporter.langfuse) {
    known->add(lf->public_key);
    known->add(lf->secret_key);
  }
  if (const auto& ot = m.settings.exporter.otlp)
    for (const auto& [name, value] : ot->headers) known->add(value);
  const log_fn log = [known, out = opts.log ? opts.log : log_fn(log_to_stderr)](
                         log_level l, std::string_view msg) {
    if (known->empty()) return out(l, msg);
    out(l, known->mask(msg));
  };
  if (opts.tracing) {
    tracing::resource_info res;
    res.service_name = m.settings.tracing.service_name;
    res.service_version = version_string;
    const auto& ex = m.settings.exporter;
    for (auto& s : opts.extra_sinks)
      if (s) workers.push_back(exporting::spawn_blocking_worker(*m.sys, std::move(s), log));
    auto http_worker = [&](std::unique_ptr<exporting::http_sink_protocol> proto) {
      if (!m.http) m.http = net::spawn_http_client(*m.sys);
      exporting::http_worker_config hc;
      hc.max_queue_spans = ex.max_queue_spans;
      hc.spool_dir = tracing::spool_dir(ex.spool_dir, proto->name());
      hc.spool_max_bytes = ex.spool_max_bytes;
      hc.retry_initial_ms = ex.retry_initial_ms;
      hc.retry_max_ms = ex.retry_max_ms;
      hc.retry_multiplier = ex.retry_multiplier;
      hc.log = log;
      workers.push_back(exporting::spawn_http_worker(*m.sys, std::move(proto), m.http, hc));
    };
    if (ex.otlp) http_worker(exporting::make_otlp_protocol(*ex.otlp, res));
    if (ex.langfuse)
      http_worker(
          ex.langfuse->legacy
              ? exporting::make_langfuse_legacy_protocol(*ex.langfuse, m.settings.tracing.content)
              : exporting::make_langfuse_protocol(*ex.langfuse, res, m.settings.tracing.content));
    if (!m.settings.tracing.trace_file.empty() || workers.empty()) {
      m.trace_file = m.settings.tracing.trace_file.empty() ? config::default_trace_file()
                                                           : m.settings.tracing.trace_file;
      std::string err;
      auto fs = tracing::file_sink::open(m.trace_file, res, &err);
      if (!fs) throw std::runtime_error(err);
      workers.push_back(exporting::spawn_blocking_worker(
          *m.sys, std::shared_ptr<tracing::sink>(std::move(fs)), log));
    }
  }
  exporting::exporter_config ec;
  ec.batch_max_spans = m.settings.tracing.batch_max_spans;
  ec.batch_max_bytes = m.settings.tracing.batch_max_bytes;
  ec.max_outstanding_spans = m.settings.exporter.max_queue_spans;
  ec.batch_delay_ms = m.settings.tracing.batch_delay_ms;
  ec.log = log;
  m.exporter = exporting::spawn_exporter(*m.sys, std::move(workers), ec);
  if (!workers_at.empty()) {
    cluster::dispatcher_config dc;
    m.worker_count = workers_at.size();
    dc.workers = std::move(workers_at);
    dc.key = opts.cluster_key;
    dc.name = actors::front_name();
    dc.heartbeat = opts.heartbeat;
    dc.heartbeat_timeout = opts.heartbeat_timeout;
    dc.retry_lost_runs = opts.retry_lost_runs;
    dc.log = [log](bool problem, const std::string& msg) {
      log(problem ? log_level::warning : log_level::info, "cluster: " + msg);
    };
    m.local_fallback = opts.local_fallback;
    m.dispatcher = std::make_shared<cluster::dispatcher>(*m.sys, std::move(dc));
  }
}

engine::~engine() { shutdown(); }

flows::registry& engine_internals::components(engine& e) { return e.impl_->registry; }
caf::actor_system& engine_internals::system(engine& e) { return *e.impl_->sys; }
caf::actor_system& engine_access::system(engine& e) { return *e.impl_->sys; }

value run_result::outputs_json() const { return flows::to_object(outputs); }

namespace {

// A public component_type as the registry's descriptor. The factory's
// exceptions become load errors at the node, so that an embedder's
// validation reads like the built-in types'.
flows::component_descriptor describe(component_type t) {
  flows::component_descriptor d;
  d.type = t.type;
  d.summary = t.summary;
  for (auto& s : t.inputs) d.inputs.push_back({s.name, s.required, false});
  d.outputs = t.outputs;
  for (auto& p : t.params) d.params.push_back({p.name, flows::value_type::any, p.required});
  d.blocking = t.blocking;
  d.opens_spans = t.opens_spans;
  d.make = [make = std::move(t.make), type = t.type](
               const flows::node_spec& node, const flows::component_services&,
               flows::diagnostics& errs) -> std::shared_ptr<const component> {
    auto fail = [&](const std::string& why) {
      errs.push_back({node.loc, "node '" + node.id + "' (" + type + "): " + why});
      return nullptr;
    };
    try {
      auto made = make(node_info{node.id, node.type, node.params});
      if (!made) return fail("the component type's factory returned no component");
      return made;
    } catch (const std::exception& ex) {
      return fail(ex.what());
    }
  };
  return d;
}

bool valid_type_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

}  // namespace

std::vector<error> engine::add_component(component_type t) {
  std::vector<error> errs;
  auto bad = [&](std::string field, const std::string& why) {
    error e;
    e.code = error_code::invalid_component;
    e.field = std::move(field);
    e.message = "component type '" + t.type + "': " + why;
    errs.push_back(std::move(e));
  };
  if (!valid_type_name(t.type))
    bad("type",
        "not a valid type name; use letters, digits, '_', '.' and '-', not starting with a digit");
  if (!t.make)
    bad("make", "no factory; set component_type::make to build the component for a node");
  auto names_ok = [&](const char* what, const std::vector<std::string>& names) {
    std::vector<std::string> seen;
    for (const auto& n : names) {
      if (n.empty()) bad(what, std::string("an empty name in ") + what);
      else if (std::find(seen.begin(), seen.end(), n) != seen.end())
        bad(what, std::string(what) + " '" + n + "' is listed twice");
      seen.push_back(n);
    }
  };
  std::vector<std::string> in, params;
  for (const auto& s : t.inputs) in.push_back(s.name);
  for (const auto& p : t.params) params.push_back(p.name);
  names_ok("inputs", in);
  names_ok("outputs", t.outputs);
  names_ok("params", params);
  if (!errs.empty()) return errs;
  if (!impl_->registry.add(describe(std::move(t)))) bad("type", "the registry refused it");
  return errs;
}

std::vector<std::string> engine::component_types() const { return impl_->registry.type_names(); }

load_result engine::load_file(const std::string& path) {
  load_result r;
  flows::diagnostics diags;
  flows::flow_loader loader(impl_->registry, impl_->services());
  r.flow = loader.load_file(path, diags);
  r.errors = flows::to_errors(diags);
  return r;
}

load_result engine::load_string(const std::string& text, const std::string& name) {
  load_result r;
  flows::diagnostics diags;
  flows::flow_loader loader(impl_->registry, impl_->services());
  r.flow = loader.load_text(text, name, diags);
  r.errors = flows::to_errors(diags);
  return r;
}

std::vector<error> engine::prepare_inputs(const flow& f, value_map& inputs) const {
  std::vector<error> out;
  if (!f) {
    error e;
    e.code = error_code::invalid_input;
    e.message = "no flow given: load one first (engine::load_file, load_string)";
    out.push_back(std::move(e));
    return out;
  }
  for (auto& p : flows::check_inputs(*f.plan(), inputs, impl_->max_value_depth)) {
    error e;
    e.code = error_code::invalid_input;
    e.field = std::move(p.input);
    e.message = std::move(p.message);
    out.push_back(std::move(e));
  }
  return out;
}

void engine::run(const flow& f, value_map inputs, run_options opts,
                 std::function<void(run_result)> done) {
  std::shared_ptr<const flows::plan> flow = f.plan();
  auto& m = *impl_;
  if (m.shut_down.load(std::memory_order_acquire)) {
    run_result r;
    r.error = "the engine is shut down";
    if (done) done(std::move(r));
    return;
  }
  auto job = std::make_shared<actors::run_job>();
  job->run_id = actors::new_run_id();

  // The trace context: the caller's trace when a valid traceparent came in
  // (parent-based sampling), otherwise a new trace sampled by ratio.
  std::optional<bool> parent_sampled;
  if (!opts.traceparent.empty()) {
    std::string why;
    if (auto tp = tracing::parse_traceparent(opts.traceparent, &why)) {
      job->ctx.trace = tp->trace;
      job->ctx.parent = tp->parent;
      parent_sampled = tp->sampled;
      // tracestate belongs to the caller's trace, so it only counts next to a
      // valid traceparent; a bad one is dropped alone, and the run still
      // joins the caller's trace.
      if (!opts.tracestate.empty()) {
        auto warn = [&](const std::string& w) {
          job->warning += (job->warning.empty() ? "" : "; ") + w;
        };
        if (auto ts = tracing::parse_tracestate(opts.tracestate, &why)) {
          job->ctx.trace_state = std::move(ts->value);
          if (ts->dropped > 0)
            warn("tracestate cut to " + std::to_string(tracing::tracestate_max_length) +
                 " characters: dropped " + std::to_string(ts->dropped) + " list member(s)");
        } else {
          warn("ignoring invalid tracestate (" + why + "); the run keeps the traceparent");
        }
      }
    } else {
      job->warning = "ignoring invalid traceparent (" + why + "); the run starts a new trace";
    }
  }
  if (!job->ctx.trace.valid()) job->ctx.trace = tracing::trace_id::random();
  job->ctx.sampled = m.tracing && tracing::should_sample(parent_sampled, job->ctx.trace,
                                                         m.settings.tracing.sample);
  job->ctx.session_id = std::move(opts.session_id);
  job->ctx.user_id = std::move(opts.user_id);

  if (!flow) {
    run_result r;
    r.run_id = job->run_id;
    r.error = "no flow given";
    if (done) done(std::move(r));
    return;
  }
  if (auto problems = prepare_inputs(f, inputs); !problems.empty()) {
    run_result r;
    r.run_id = job->run_id;
    r.trace_id = job->ctx.trace.to_hex();
    for (const auto& p : problems) r.error += (r.error.empty() ? "" : "; ") + p.message;
    r.warning = std::move(job->warning);
    if (done) done(std::move(r));
    return;
  }
  job->timeout_ms =
      opts.timeout_ms.value_or(0) > 0 ? *opts.timeout_ms : flow->spec.timeout_ms.value_or(0);
  job->plan = std::move(flow);
  job->inputs = std::move(inputs);
  m.equip(*job);
  job->done = std::move(done);
  job->on_event = std::move(opts.on_event);
  // A run with placed nodes stays here: its run actor supervises here and
  // sends those nodes to workers with their tags.
  if (m.dispatcher && !job->plan->placed) m.dispatch(std::move(job), std::move(opts.canceller));
  else m.launch(std::move(job), opts.canceller, false);
}

bool engine::wait_for_workers(std::size_t n, std::chrono::milliseconds timeout) const {
  if (!impl_->dispatcher) return n == 0;
  const auto want = n == 0 ? impl_->worker_count : n;
  return impl_->dispatcher->wait_connected(static_cast<int>(want), timeout);
}

std::function<void(std::string)> engine_internals::run_for_front(
    engine& e, const flow& f, cluster::run_request req, std::function<void(std::string)> on_event,
    std::function<void(cluster::run_reply)> done) {
  auto& m = *e.impl_;
  auto refuse = [&](std::string why) {
    cluster::run_reply r;
    r.run_id = req.run_id;
    r.trace_id = req.trace.trace_id;
    r.error = std::move(why);
    done(std::move(r));
    return std::function<void(std::string)>{};
  };
  if (m.shut_down.load(std::memory_order_acquire)) return refuse("the worker is shutting down");
  if (!f) return refuse("no flow given");
  auto job = std::make_shared<actors::run_job>();
  job->run_id = req.run_id.empty() ? actors::new_run_id() : req.run_id;
  // The front decided the trace and its sampling: the run continues them.
  auto trace = tracing::trace_id::from_hex(req.trace.trace_id);
  if (!trace) return refuse("the front sent a bad trace id '" + req.trace.trace_id + "'");
  job->ctx.trace = *trace;
  if (!req.trace.parent_span_id.empty()) {
    auto parent = tracing::span_id::from_hex(req.trace.parent_span_id);
    if (!parent)
      return refuse("the front sent a bad parent span id '" + req.trace.parent_span_id + "'");
    job->ctx.parent = *parent;
  }
  job->ctx.sampled = m.tracing && req.trace.sampled;
  job->ctx.trace_state = std::move(req.trace.tracestate);
  job->ctx.session_id = std::move(req.trace.session_id);
  job->ctx.user_id = std::move(req.trace.user_id);
  auto in = flows::value::parse(req.inputs_json, nullptr, false);
  if (!in.is_object()) return refuse("the front sent inputs that are not a JSON object");
  value_map inputs;
  for (auto& [k, v] : in.items()) inputs.emplace(k, v);
  if (auto problems = e.prepare_inputs(f, inputs); !problems.empty()) {
    std::string why;
    for (const auto& p : problems) why += (why.empty() ? "" : "; ") + p.message;
    return refuse(why);
  }
  job->timeout_ms = req.deadline_ms > 0 ? req.deadline_ms : f.plan()->spec.timeout_ms.value_or(0);
  job->plan = f.plan();
  job->inputs = std::move(inputs);
  m.equip(*job);
  job->done = [done = std::move(done)](const run_result& r) { done(actors::reply_from_result(r)); };
  if (on_event)
    job->on_event = [on_event = std::move(on_event)](const run_event& ev) {
      on_event(ev.to_json().dump(-1, ' ', false, value::error_handler_t::replace));
    };
  auto canceller = std::make_shared<run_canceller>();
  m.launch(std::move(job), canceller, false);
  return [canceller](std::string why) { canceller->cancel(std::move(why)); };
}

std::function<void(std::string)> engine_internals::run_node_for_front(
    engine& e, const flow& f, cluster::node_request req, std::function<void(std::string)> on_event,
    std::function<void(cluster::run_reply)> done) {
  auto& m = *e.impl_;
  if (m.shut_down.load(std::memory_order_acquire)) {
    cluster::run_reply r;
    r.run_id = req.run.run_id;
    r.error = "the worker is shutting down";
    done(std::move(r));
    return {};
  }
  actors::run_job equipped;
  m.equip(equipped);
  actors::node_host_job job;
  job.plan = f.plan();
  job.req = std::move(req);
  job.tracing = m.tracing;
  job.max_value_depth = equipped.max_value_depth;
  job.exporter = equipped.exporter;
  job.http = equipped.http;
  job.llm = equipped.llm;
  job.on_event = std::move(on_event);
  // Counted as a run: shutdown waits for it, and cancels it past its deadline.
  const auto id = m.next_id.fetch_add(1, std::memory_order_relaxed);
  m.in_flight.fetch_add(1, std::memory_order_relaxed);
  job.done = [&m, id, done = std::move(done)](cluster::run_reply r) {
    done(std::move(r));
    {
      std::lock_guard<std::mutex> lk(m.runs_mu);
      m.runs.erase(id);
    }
    m.release_one();
  };
  auto host = actors::host_placed_node(*m.sys, std::move(job));
  if (!host) return {};  // refused: done was called
  {
    std::lock_guard<std::mutex> lk(m.runs_mu);
    m.runs.emplace(id, host);
  }
  caf::anon_send(host, actors::start_atom::value);
  auto addr = caf::actor_cast<caf::actor_addr>(host);
  return [addr](std::string why) {
    if (auto a = caf::actor_cast<actors::run_actor>(addr))
      caf::anon_send(a, actors::cancel_atom::value, std::move(why));
  };
}

void run_canceller::cancel(std::string why) {
  std::function<void(std::string)> fn;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (cancelled_) return;
    cancelled_ = true;
    why_ = why;
    fn = fn_;
  }
  if (fn) fn(std::move(why));
}

bool run_canceller::cancelled() const {
  std::lock_guard<std::mutex> lk(mu_);
  return cancelled_;
}

void run_canceller::attach(const std::function<void(std::string)>& fn) {
  std::optional<std::string> why;
  {
    std::lock_guard<std::mutex> lk(mu_);
    fn_ = fn;
    if (cancelled_) why = why_;
  }
  if (why) fn(std::move(*why));
}

std::future<run_result> engine::run(const flow& flow, value_map inputs, run_options opts) {
  auto p = std::make_shared<std::promise<run_result>>();
  auto f = p->get_future();
  run(flow, std::move(inputs), std::move(opts), [p](run_result r) { p->set_value(std::move(r)); });
  return f;
}

exporter_stats engine::stats(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->shut_down) return impl_->final_stats;
  }
  exporting::exporter_stats out;
  caf::scoped_actor self{*impl_->sys};
  self->request(impl_->exporter, timeout, actors::stats_atom::value)
      .receive([&](exporting::exporter_stats& s) { out = std::move(s); }, [](caf::error&) {});
  return out;
}

void engine::stats(std::function<void(std::optional<exporter_stats>)> done,
                   std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    if (impl_->shut_down) {
      done(impl_->final_stats);
      return;
    }
  }
  // A short-lived actor waits for the exporter, so the caller never does.
  impl_->sys->spawn(
      [exporter = impl_->exporter, done = std::move(done), timeout](caf::event_based_actor* self) {
        self->request(exporter, timeout, actors::stats_atom::value)
            .then([done](exporting::exporter_stats& s) { done(std::move(s)); },
                  [done](caf::error&) { done(std::nullopt); });
      });
}

const std::string& engine::trace_file() const { return impl_->trace_file; }

std::int64_t engine::runs_in_flight() const { return impl_->in_flight.load(); }

bool engine::shutdown(std::chrono::milliseconds deadline) {
  auto& m = *impl_;
  {
    std::lock_guard<std::mutex> lk(m.mu);
    if (m.shut_down) return true;
    m.shut_down = true;
  }
  auto until = std::chrono::steady_clock::now() + deadline;
  {
    std::unique_lock<std::mutex> lk(m.mu);
    if (!m.idle.wait_until(lk, until, [&] { return m.in_flight.load() == 0; })) {
      // Runs still going past the deadline are cancelled: their spans end
      // with an error and still reach the exporter before the flush below.
      std::lock_guard<std::mutex> rl(m.runs_mu);
      for (auto& [_, run] : m.runs)
        caf::anon_send(run, actors::cancel_atom::value,
                       std::string("cancelled: engine shutting down"));
      m.idle.wait_for(lk, std::chrono::seconds(5), [&] { return m.in_flight.load() == 0; });
    }
  }
  // Runs still on workers end with "the engine is shut down".
  m.dispatcher.reset();
  bool flushed = false;
  {
    caf::scoped_actor self{*m.sys};
    // No run is left to use it (or they were cancelled, which aborted their
    // requests); a late node asking now gets no client and fails its call.
    if (auto c = m.component_http->close()) self->send_exit(c, caf::exit_reason::user_shutdown);
    // The flush gets the exporter's own budget (WEFT_EXPORT_SHUTDOWN_TIMEOUT_MS)
    // past it, what sinks could not deliver is spooled.
    auto budget = std::chrono::milliseconds(m.settings.exporter.shutdown_timeout_ms);
    self->request(m.exporter, budget + std::chrono::seconds(2), actors::flush_atom::value,
                  static_cast<std::int64_t>(budget.count()))
        .receive([&](bool ok) { flushed = ok; }, [](caf::error&) {});
    self->request(m.exporter, std::chrono::seconds(5), actors::stats_atom::value)
        .receive([&](exporting::exporter_stats& s) { m.final_stats = std::move(s); },
                 [](caf::error&) {});
    self->send_exit(m.exporter, caf::exit_reason::user_shutdown);
    if (m.http) self->send_exit(m.http, caf::exit_reason::user_shutdown);
  }
  m.exporter = nullptr;
  m.http = nullptr;
  m.sys.reset();  // joins every actor thread
  return flushed;
}

}  // namespace weft
