// `weft load --url URL --flow NAME`: N runs of a flow on a `weft serve`, C in
// flight over kept-alive connections (net/http_load.hpp), then an audit of
// their traces in the server's trace file.
//
// Each request carries a fresh traceparent, so this process knows every
// run's trace id and the span that must be its root's parent before the
// server answers; the audit then checks the server's spans against what was
// sent, not against what the server claims.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <variant>

#include "cli/commands.hpp"
#include "cli/engine_setup.hpp"
#include "cli/interrupt.hpp"
#include "cli/load_summary.hpp"
#include "cli/load_url_answer.hpp"
#include "cli/load_url_server.hpp"
#include "cli/run_inputs.hpp"
#include "flows/spec.hpp"
#include "net/http_load.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "tracing/traceparent.hpp"

namespace weft::cli {
namespace {

using clock = std::chrono::steady_clock;
using flows::value;

// What one run sent and got back; what the audit needs.
struct run_record {
  tracing::trace_id trace;
  tracing::span_id parent;
  std::string run_id;
  bool ok = false;
};

// A first Ctrl-C stops sending and lets the runs in flight finish (their
// traces are still audited); a second abandons them. setup.hpp's flag
// cannot tell the two apart, hence a handler of our own.
volatile std::sig_atomic_t g_signals = 0;
extern "C" void on_load_signal(int) {
  if (g_signals < 2) g_signals = g_signals + 1;
}

// Re-reads the server's trace file until the audit passes or `wait` runs
// out: the server's exporter writes spans in batches, after it answered.
tracing::audit_report audit_remote(const std::string& path,
                                   const std::vector<tracing::audit_expectation>& expect,
                                   std::chrono::milliseconds wait, std::string& error) {
  std::set<tracing::trace_id> wanted;
  for (auto& e : expect) wanted.insert(e.trace);
  auto deadline = clock::now() + wait;
  for (;;) {
    std::vector<tracing::span_record> spans;
    // Only our traces are kept: the server's file may hold millions of spans.
    auto summary = tracing::read_otlp_json_file(
        path, [&](tracing::span_record&& s, const tracing::resource_info&) {
          if (wanted.count(s.trace)) spans.push_back(std::move(s));
        });
    error = summary.open_error;
    auto report = tracing::audit_traces(spans, expect);
    // An interrupt ends the wait, not the process: the summary still prints.
    if ((error.empty() && report.ok()) || clock::now() >= deadline || g_signals) return report;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

void add_problem(tracing::audit_report& rep, std::string p) {
  if (rep.problems.size() < tracing::audit_report::max_problems)
    rep.problems.push_back(std::move(p));
  ++rep.problem_count;
}

// The request body and route for --openai: one user message, the prompt
// from -i prompt=TEXT. Prints the error and returns nullopt.
std::optional<std::string> chat_body(const load_opts& o) {
  std::string prompt = "Say hello.";
  for (auto& kv : o.inputs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || kv.substr(0, eq) != "prompt") {
      std::cerr << "weft: error: -i " << kv
                << ": with --openai the only input is prompt=TEXT, sent as the user message\n";
      return std::nullopt;
    }
    prompt = kv.substr(eq + 1);
  }
  if (!o.inputs_file.empty()) {
    std::cerr << "weft: error: --inputs-file has no effect with --openai; give -i prompt=TEXT\n";
    return std::nullopt;
  }
  value body = {{"model", o.flow_name},
                {"messages", value::array({{{"role", "user"}, {"content", prompt}}})}};
  if (o.stream) {
    body["stream"] = true;
    body["stream_options"] = {{"include_usage", true}};
  }
  if (!o.user_id.empty()) body["user"] = o.user_id;
  return body.dump();
}

// The OpenAI API root of a base URL: weft's is BASE/v1; a URL given with
// its /v1 already (as OpenAI clients take it) is kept.
std::string api_root(const std::string& base) {
  return base.ends_with("/v1") ? base : base + "/v1";
}

// The stream figures --stream adds to the summary.
struct stream_totals {
  std::vector<double> first_event_ms;  // sorted; one per stream that sent a byte
  std::vector<double> first_byte_ms;   // sorted; the head's first byte
  std::int64_t events = 0;
  std::int64_t complete = 0;
  std::int64_t streams = 0;
};

value stream_json(const stream_totals& s, double duration_s) {
  auto pct = [](const std::vector<double>& v) {
    return value{{"p50", percentile(v, 0.50)}, {"p99", percentile(v, 0.99)}};
  };
  return {{"streams", s.streams},
          {"complete", s.complete},
          {"events", s.events},
          {"events_per_s", duration_s > 0 ? static_cast<double>(s.events) / duration_s : 0.0},
          {"first_event_ms", pct(s.first_event_ms)},
          {"first_byte_ms", pct(s.first_byte_ms)}};
}

}  // namespace

int load_url_command(const load_opts& o) {
  std::string base = o.url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  if (!base.starts_with("http://") && !base.starts_with("https://")) {
    std::cerr << "weft: error: --url " << o.url << ": expected http://HOST:PORT or https://...\n";
    return exit_usage;
  }
  if (!o.config_file.empty()) {
    std::cerr << "weft: error: --config has no effect with --url: the server's settings apply\n";
    return exit_usage;
  }
  net::header_list auth;
  if (const char* key = std::getenv(o.api_key_env.c_str()); key && *key) {
    // Checked here, or every request would fail the same way; the message
    // names the variable, never its value.
    if (std::string_view(key).find_first_of("\r\n") != std::string_view::npos) {
      std::cerr << "weft: error: " << o.api_key_env << " contains a line break\n";
      return exit_usage;
    }
    auth.emplace_back("Authorization", std::string("Bearer ") + key);
  }
  const bool audit = !o.trace_file.empty();
  const auto route = o.openai ? (o.stream ? load_route::chat_stream : load_route::chat)
                              : (o.stream ? load_route::runs_stream : load_route::runs);

  // What to send. A flow's description is needed for its inputs, and for
  // the audit's span count; --openai needs it only for the audit, so that
  // it can load any OpenAI-compatible server.
  flow_info flow;
  std::string body_text, target;
  if (!o.openai || audit) {
    auto described = describe_flow(base, o, auth);
    if (auto* code = std::get_if<int>(&described)) return *code;
    flow = std::get<flow_info>(described);
  }
  if (o.openai) {
    auto body = chat_body(o);
    if (!body) return exit_usage;
    body_text = std::move(*body);
    target = api_root(base) + "/chat/completions";
    if (int code = check_model(api_root(base), o, auth); code != exit_ok) return code;
  } else {
    auto inputs = make_remote_inputs(flow, o);
    if (!inputs) return exit_usage;
    // Every request has the same body; only the traceparent differs.
    value body = {{"inputs", std::move(*inputs)}};
    if (!o.session_id.empty()) body["session_id"] = o.session_id;
    if (!o.user_id.empty()) body["user_id"] = o.user_id;
    if (o.timeout_ms > 0) body["timeout_ms"] = o.timeout_ms;
    body_text = body.dump();
    target = base + "/v1/flows/" + percent_encode(o.flow_name) + "/runs";
  }
  const char* accept = o.stream ? "text/event-stream" : "application/json";

  const auto total = static_cast<std::size_t>(o.runs);
  std::vector<run_record> records(total);
  std::vector<double> latency(total, 0.0);
  std::map<long, std::int64_t> statuses;
  std::map<std::string, std::int64_t> transport_errors;
  std::int64_t ok = 0, failed = 0, finished = 0;
  std::string first_error;
  tracing::audit_report report;
  stream_totals streamed;

  net::http_load_config cfg;
  cfg.concurrency = static_cast<int>(std::min<std::int64_t>(o.concurrency, 1 << 20));
  cfg.total = o.runs;
  // The server answers 504 when the run times out; give it time to say so.
  cfg.timeout_ms = o.http_timeout_ms > 0 ? o.http_timeout_ms
                   : o.timeout_ms > 0    ? o.timeout_ms + 10000
                                         : 60000;
  // A stream is read whole before it is checked; its events add up.
  if (o.stream) cfg.max_body_bytes = std::size_t{16} << 20;
  net::http_load load(cfg);

  auto make = [&](std::int64_t i) {
    auto& rec = records[static_cast<std::size_t>(i)];
    rec.trace = tracing::trace_id::random();
    rec.parent = tracing::span_id::random();
    net::http_request req;
    req.method = "POST";
    req.url = target;
    req.body = body_text;
    req.headers = auth;
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Accept", accept);
    if (o.openai && !o.session_id.empty()) req.headers.emplace_back("x-session-id", o.session_id);
    req.headers.emplace_back("traceparent",
                             tracing::format_traceparent(rec.trace, rec.parent, true));
    return req;
  };

  auto done = [&](net::http_load_sample&& s) {
    auto& rec = records[static_cast<std::size_t>(s.index)];
    auto& r = s.response;
    latency[static_cast<std::size_t>(s.index)] = s.latency_ms;
    ++finished;
    if (r.error != net::transport_error::none) ++transport_errors[net::to_string(r.error)];
    else ++statuses[r.status];
    if (o.stream) {
      ++streamed.streams;
      if (s.first_body_ms > 0) streamed.first_event_ms.push_back(s.first_body_ms);
      if (s.first_byte_ms > 0) streamed.first_byte_ms.push_back(s.first_byte_ms);
    }
    std::string why;
    if (r.ok()) {
      auto a = read_answer(route, r, s.body_truncated);
      streamed.events += a.events;
      if (a.complete) ++streamed.complete;
      rec.ok = a.ok;
      why = a.error;
      if (audit) rec.run_id = a.run_id;
      // The server must have run it in the trace this request named.
      const auto sent = rec.trace.to_hex();
      if (!a.trace_id.empty() && a.trace_id != sent)
        add_problem(report, "run " + std::to_string(s.index) + ": the server answered trace_id '" +
                                a.trace_id + "', but the request's traceparent had " + sent);
      if (auto tp = r.header("traceparent")) {
        auto parsed = tracing::parse_traceparent(*tp);
        if (!parsed || parsed->trace != rec.trace)
          add_problem(report, "run " + std::to_string(s.index) +
                                  ": the response's traceparent is not in trace " + sent);
      }
    } else {
      why = describe_failure(r);
    }
    if (!rec.ok) {
      if (failed++ == 0) first_error = why;
    } else {
      ++ok;
    }
  };

  g_signals = 0;
  std::signal(SIGINT, on_load_signal);
  std::signal(SIGTERM, on_load_signal);
  bool progress = !o.no_progress && !o.json && isatty(STDERR_FILENO);
  int signals_seen = 0;
  auto tick = [&] {
    if (g_signals > signals_seen) {
      // Signals that arrived together count once (`timeout` and process
      // groups may deliver one interrupt twice); only a later one cancels.
      if (signals_seen == 0) g_signals = 1;
      signals_seen = g_signals;
      if (signals_seen == 1) {
        load.stop();
        std::cerr << "\nweft: interrupted: sending no more runs; waiting for those in flight"
                     " (interrupt again to abandon them)\n";
      } else {
        load.cancel();
      }
    }
    if (progress) draw_progress(finished, o.runs);
  };

  auto stats = load.run(make, done, tick);
  if (progress) {
    draw_progress(finished, stats.sent);
    std::fputc('\n', stderr);
  }
  const auto sent = static_cast<std::size_t>(stats.sent);
  load_totals totals{stats.sent,
                     ok,
                     failed,
                     stats.duration_s,
                     {latency.begin(), latency.begin() + static_cast<long>(sent)}};
  std::sort(totals.latency_ms.begin(), totals.latency_ms.end());
  std::sort(streamed.first_event_ms.begin(), streamed.first_event_ms.end());
  std::sort(streamed.first_byte_ms.begin(), streamed.first_byte_ms.end());

  // The audit: every run the server said it ran must be one complete trace,
  // rooted at the span this process put in its traceparent.
  std::string audit_error;
  if (audit) {
    g_signals = 0;
    std::vector<tracing::audit_expectation> expect;
    for (std::size_t i = 0; i < sent; ++i) {
      auto& rec = records[i];
      if (!rec.ok) continue;
      tracing::audit_expectation e;
      e.trace = rec.trace;
      e.remote_parent = rec.parent;
      e.run_id = rec.run_id;
      e.session_id = o.session_id;
      e.user_id = o.user_id;
      e.expected_spans = flow.nodes && flow.fixed_shape ? flow.nodes + 1 : 0;
      expect.push_back(std::move(e));
    }
    auto found =
        audit_remote(o.trace_file, expect, std::chrono::milliseconds(o.audit_wait_ms), audit_error);
    found.problem_count += report.problem_count;
    for (auto& p : report.problems)
      if (found.problems.size() < tracing::audit_report::max_problems) found.problems.push_back(p);
    report = std::move(found);
  }

  if (o.json) {
    value by_status = value::object(), by_error = value::object();
    for (auto& [code, n] : statuses) by_status[std::to_string(code)] = n;
    for (auto& [kind, n] : transport_errors) by_error[kind] = n;
    value j = summary_json(totals);
    j["audit"] = {{"traces", report.traces},
                  {"spans", report.spans},
                  {"problems", report.problem_count},
                  {"problem_samples", report.problems},
                  {"checked", audit}};
    j["export"] = {{"remote", true}};
    if (o.stream) j["stream"] = stream_json(streamed, totals.duration_s);
    j["http"] = {{"url", base},
                 {"route", o.openai ? "openai" : "runs"},
                 {"flow", o.flow_name},
                 {"statuses", by_status},
                 {"transport_errors", by_error},
                 {"connections_opened", stats.connections_opened},
                 {"max_in_flight", stats.max_in_flight}};
    std::cout << j.dump() << std::endl;
  } else {
    print_summary_head(totals);
    std::string counts;
    for (auto& [code, n] : statuses)
      counts += "  " + std::to_string(code) + " x" + std::to_string(n);
    for (auto& [kind, n] : transport_errors) counts += "  " + kind + " x" + std::to_string(n);
    std::printf("http  %s%s  connections %lld%s\n", base.c_str(),
                o.openai ? "  (OpenAI chat completions)" : "",
                static_cast<long long>(stats.connections_opened), counts.c_str());
    if (o.stream) {
      const double per_s =
          totals.duration_s > 0 ? static_cast<double>(streamed.events) / totals.duration_s : 0;
      std::printf(
          "stream  complete %lld/%lld  events %lld (%.0f/s)  first event p50 %.2f ms  p99 %.2f ms"
          "  (head p99 %.2f ms)\n",
          static_cast<long long>(streamed.complete), static_cast<long long>(streamed.streams),
          static_cast<long long>(streamed.events), per_s, percentile(streamed.first_event_ms, 0.5),
          percentile(streamed.first_event_ms, 0.99), percentile(streamed.first_byte_ms, 0.99));
    }
    if (audit)
      std::printf("audit  traces %zu  spans %zu  problems %zu\n", report.traces, report.spans,
                  report.problem_count);
    else
      std::printf("audit  traces not read (no --trace-file)  problems %zu\n", report.problem_count);
    std::printf("export  remote: the server exports the spans\n");
  }
  for (auto& p : report.problems) std::cerr << "weft: audit: " << p << '\n';
  if (report.problem_count > report.problems.size())
    std::cerr << "weft: audit: ... " << report.problem_count - report.problems.size() << " more\n";
  if (!audit_error.empty()) std::cerr << "weft: audit: " << audit_error << '\n';
  if (failed)
    std::cerr << "weft: " << failed << " run(s) failed; first error: " << first_error << '\n';
  return (failed || !report.ok() || !audit_error.empty()) ? exit_run_failed : exit_ok;
}

int load_dispatch(const load_opts& o) {
  const bool remote = !o.url.empty() || !o.flow_name.empty();
  if (!remote && (o.stream || o.openai)) {
    std::cerr << "weft: error: --" << (o.stream ? "stream" : "openai")
              << " drives a server: give --url URL --flow NAME\n";
    return exit_usage;
  }
  if (!remote && o.flow_path.empty()) {
    std::cerr
        << "weft: error: load needs a FLOW file, or --url URL --flow NAME for a weft server\n";
    return exit_usage;
  }
  if (remote && (!o.workers.empty() || !o.audit_trace_files.empty())) {
    std::cerr << "weft: error: --" << (o.workers.empty() ? "audit-trace-files" : "workers")
              << " is for in-process loads: a server given with --url has its own "
                 "(weft serve --workers)\n";
    return exit_usage;
  }
  if (!remote && !o.audit_trace_files.empty() && o.workers.empty()) {
    std::cerr << "weft: error: --audit-trace-files reads the workers' files: give --workers too\n";
    return exit_usage;
  }
  if (!remote) return load_command(o);
  if (!o.flow_path.empty()) {
    std::cerr
        << "weft: error: give either a FLOW file (runs in-process) or --url and --flow (runs on"
           " a server), not both\n";
    return exit_usage;
  }
  if (o.url.empty()) {
    std::cerr << "weft: error: --flow " << o.flow_name << " needs --url, the server's base URL\n";
    return exit_usage;
  }
  if (o.flow_name.empty()) {
    std::cerr << "weft: error: --url needs --flow NAME, the server's flow to run\n";
    return exit_usage;
  }
  return load_url_command(o);
}

}  // namespace weft::cli
