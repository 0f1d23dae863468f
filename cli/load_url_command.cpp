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
#include "cli/load_summary.hpp"
#include "cli/setup.hpp"
#include "flows/spec.hpp"
#include "net/http_load.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "tracing/traceparent.hpp"

namespace weft::cli {
namespace {

using clock = std::chrono::steady_clock;
using flows::value;

// What GET /v1/flows/NAME said.
struct flow_info {
  std::vector<flows::input_decl> inputs;
  std::size_t nodes = 0;  // 0: unknown
  // Whether every run has 1 + nodes spans. A server that does not say is
  // taken to mean yes: servers from before branches and child runs.
  bool fixed_shape = true;
};

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

std::string percent_encode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<flows::value_type> parse_type(const std::string& name) {
  using flows::value_type;
  for (auto t : {value_type::string, value_type::number, value_type::integer, value_type::boolean,
                 value_type::object, value_type::array, value_type::any})
    if (name == flows::to_string(t)) return t;
  return std::nullopt;
}

// "HTTP 503 server_busy: too many runs in flight (details...)", from the
// server's error JSON when it sent one, else from the status alone.
std::string describe_failure(const net::http_response& r) {
  if (r.error != net::transport_error::none)
    return net::to_string(r.error) + ": " + r.error_message;
  std::string out = "HTTP " + std::to_string(r.status);
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object()) return out;
  auto& e = j["error"];
  if (e.contains("code") && e["code"].is_string()) out += " " + e["code"].get<std::string>();
  if (e.contains("message") && e["message"].is_string())
    out += ": " + e["message"].get<std::string>();
  if (e.contains("details") && e["details"].is_array())
    for (auto& d : e["details"]) out += "\n  " + (d.is_string() ? d.get<std::string>() : d.dump());
  return out;
}

// One request, sent through the same driver as the load itself.
net::http_response fetch(net::http_request req, std::int64_t timeout_ms) {
  net::http_load one({.concurrency = 1, .total = 1, .timeout_ms = timeout_ms});
  net::http_response got;
  one.run([&](std::int64_t) { return req; },
          [&](net::http_load_sample&& s) { got = std::move(s.response); });
  return got;
}

// "a, b, c" from GET /v1/flows; empty when that fails (it is only a hint).
std::string served_flows(const std::string& base, const net::header_list& auth) {
  net::http_request req;
  req.method = "GET";
  req.url = base + "/v1/flows";
  req.headers = auth;
  auto r = fetch(std::move(req), 10000);
  if (!r.ok()) return {};
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("flows") || !j["flows"].is_array()) return {};
  std::string names;
  for (auto& f : j["flows"])
    if (f.is_object() && f.contains("name") && f["name"].is_string())
      names += (names.empty() ? "" : ", ") + f["name"].get<std::string>();
  return names;
}

// GET /v1/flows/NAME. Prints the error and returns the exit code on failure.
std::variant<flow_info, int> describe_flow(const std::string& base, const load_opts& o,
                                           const net::header_list& auth) {
  net::http_request req;
  req.method = "GET";
  req.url = base + "/v1/flows/" + percent_encode(o.flow_name);
  req.headers = auth;
  req.headers.emplace_back("Accept", "application/json");
  auto r = fetch(std::move(req), 10000);
  if (r.error != net::transport_error::none) {
    // A refused or unresolvable server is "not there"; one that accepted
    // the connection and then said nothing is there but stuck.
    const bool unreachable =
        r.error == net::transport_error::connect || r.error == net::transport_error::dns;
    std::cerr << "weft: error: " << (unreachable ? "cannot reach " : "no answer from ") << base
              << ": " << r.error_message << '\n';
    return exit_run_failed;
  }
  if (r.status == 401 || r.status == 403) {
    std::cerr << "weft: error: " << base << " refused the request (" << describe_failure(r) << ")\n"
              << (auth.empty() ? "weft: hint: set " + o.api_key_env + " to the server's API key\n"
                               : "weft: hint: check the API key in " + o.api_key_env + "\n");
    return exit_usage;
  }
  if (r.status == 404) {
    std::cerr << "weft: error: " << base << " has no flow '" << o.flow_name
              << "' (the server said: " << describe_failure(r) << ")\n";
    if (auto names = served_flows(base, auth); !names.empty())
      std::cerr << "weft: hint: the flows it serves: " << names << '\n';
    return exit_usage;
  }
  if (r.status != 200) {
    std::cerr << "weft: error: GET /v1/flows/" << o.flow_name << ": " << describe_failure(r)
              << '\n';
    return exit_run_failed;
  }
  auto j = value::parse(r.body, nullptr, false);
  if (!j.is_object()) {
    std::cerr << "weft: error: GET /v1/flows/" << o.flow_name
              << ": the answer is not a JSON object; is " << base << " a weft server?\n";
    return exit_run_failed;
  }
  flow_info info;
  if (j.contains("nodes") && j["nodes"].is_number_unsigned())
    info.nodes = j["nodes"].get<std::size_t>();
  if (j.contains("fixed_shape") && j["fixed_shape"].is_boolean())
    info.fixed_shape = j["fixed_shape"].get<bool>();
  if (j.contains("inputs") && j["inputs"].is_array()) {
    for (auto& d : j["inputs"]) {
      if (!d.is_object() || !d.contains("name") || !d["name"].is_string()) continue;
      flows::input_decl in;
      in.name = d["name"].get<std::string>();
      // The server applies the default; here only whether there is one
      // matters (none: the input is required).
      if (!d.value("required", false)) in.default_value = d.value("default", value());
      if (d.contains("type") && d["type"].is_string()) {
        auto t = parse_type(d["type"].get<std::string>());
        if (!t)
          std::cerr << "weft: warning: input '" << in.name << "' has type '"
                    << d["type"].get<std::string>()
                    << "', unknown here; sending -i values as 'any'\n";
        in.type = t.value_or(flows::value_type::any);
      }
      info.inputs.push_back(std::move(in));
    }
  }
  return info;
}

// setup.hpp's make_inputs against the inputs the server declared, then a
// check that each required one is given: one error here, not one per run.
// Prints the error and returns nullopt.
std::optional<value> make_remote_inputs(const flow_info& flow, const load_opts& o) {
  auto in = make_inputs(o.flow_name, flow.inputs, o);
  if (!in) return std::nullopt;
  for (auto& d : flow.inputs) {
    if (!d.default_value && !in->contains(d.name)) {
      std::cerr << "weft: error: flow '" << o.flow_name << "' needs input '" << d.name << "' ("
                << flows::to_string(d.type) << "); give -i " << d.name << "=VALUE\n";
      return std::nullopt;
    }
  }
  return flows::to_object(*in);
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

  auto described = describe_flow(base, o, auth);
  if (auto* code = std::get_if<int>(&described)) return *code;
  auto& flow = std::get<flow_info>(described);
  auto inputs = make_remote_inputs(flow, o);
  if (!inputs) return exit_usage;

  // Every request has the same body; only the traceparent differs.
  value body = {{"inputs", std::move(*inputs)}};
  if (!o.session_id.empty()) body["session_id"] = o.session_id;
  if (!o.user_id.empty()) body["user_id"] = o.user_id;
  if (o.timeout_ms > 0) body["timeout_ms"] = o.timeout_ms;
  const std::string body_text = body.dump();
  const std::string runs_url = base + "/v1/flows/" + percent_encode(o.flow_name) + "/runs";
  const bool audit = !o.trace_file.empty();

  const auto total = static_cast<std::size_t>(o.runs);
  std::vector<run_record> records(total);
  std::vector<double> latency(total, 0.0);
  std::map<long, std::int64_t> statuses;
  std::map<std::string, std::int64_t> transport_errors;
  std::int64_t ok = 0, failed = 0, finished = 0;
  std::string first_error;
  tracing::audit_report report;

  net::http_load_config cfg;
  cfg.concurrency = static_cast<int>(std::min<std::int64_t>(o.concurrency, 1 << 20));
  cfg.total = o.runs;
  // The server answers 504 when the run times out; give it time to say so.
  cfg.timeout_ms = o.http_timeout_ms > 0 ? o.http_timeout_ms
                   : o.timeout_ms > 0    ? o.timeout_ms + 10000
                                         : 60000;
  net::http_load load(cfg);

  auto make = [&](std::int64_t i) {
    auto& rec = records[static_cast<std::size_t>(i)];
    rec.trace = tracing::trace_id::random();
    rec.parent = tracing::span_id::random();
    net::http_request req;
    req.method = "POST";
    req.url = runs_url;
    req.body = body_text;
    req.headers = auth;
    req.headers.emplace_back("Content-Type", "application/json");
    req.headers.emplace_back("Accept", "application/json");
    req.headers.emplace_back("traceparent",
                             tracing::format_traceparent(rec.trace, rec.parent, true));
    return req;
  };

  auto done = [&](net::http_load_sample&& s) {
    auto& rec = records[static_cast<std::size_t>(s.index)];
    auto& r = s.response;
    latency[static_cast<std::size_t>(s.index)] = s.latency_ms;
    ++finished;
    if (r.error != net::transport_error::none)
      ++transport_errors[net::to_string(r.error)];
    else
      ++statuses[r.status];
    std::string why;
    if (r.ok()) {
      auto j = value::parse(r.body, nullptr, false);
      if (j.is_object() && j.contains("trace_id") && j["trace_id"].is_string()) {
        rec.ok = true;
        if (audit && j.contains("run_id") && j["run_id"].is_string())
          rec.run_id = j["run_id"].get<std::string>();
        auto sent = rec.trace.to_hex();
        auto got = j["trace_id"].get<std::string>();
        if (got != sent)
          add_problem(report, "run " + std::to_string(s.index) +
                                  ": the server answered trace_id '" + got +
                                  "', but the request's traceparent had " + sent);
        if (auto tp = r.header("traceparent")) {
          auto parsed = tracing::parse_traceparent(*tp);
          if (!parsed || parsed->trace != rec.trace)
            add_problem(report, "run " + std::to_string(s.index) +
                                    ": the response's traceparent is not in trace " + sent);
        }
      } else {
        why =
            "HTTP " + std::to_string(r.status) + " with a body that is not a run result" +
            (s.body_truncated ? " (cut at " + std::to_string(cfg.max_body_bytes) + " bytes)" : "");
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
  load_totals totals{stats.sent, ok, failed, stats.duration_s,
                     {latency.begin(), latency.begin() + static_cast<long>(sent)}};
  std::sort(totals.latency_ms.begin(), totals.latency_ms.end());

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
    j["http"] = {{"url", base},
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
    std::printf("http  %s  connections %lld%s\n", base.c_str(),
                static_cast<long long>(stats.connections_opened), counts.c_str());
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
  if (!remote && o.flow_path.empty()) {
    std::cerr
        << "weft: error: load needs a FLOW file, or --url URL --flow NAME for a weft server\n";
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
