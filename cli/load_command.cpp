// `weft load FLOW`: N runs in-process with at most C in flight, then an audit
// of their traces read back from the trace file.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>

#include "cli/commands.hpp"
#include "cli/engine_setup.hpp"
#include "cli/interrupt.hpp"
#include "cli/load_summary.hpp"
#include "cli/run_inputs.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json_reader.hpp"

namespace weft::cli {
namespace {

using clock = std::chrono::steady_clock;

// Shared by the driver thread and the run callbacks (engine threads).
struct load_state {
  engine* eng = nullptr;
  std::shared_ptr<const flows::plan> flow;
  flows::value_map inputs;
  run_options ro;
  std::atomic<std::int64_t> total{0};
  std::atomic<std::int64_t> next{0};
  std::atomic<std::int64_t> finished{0};
  std::atomic<std::int64_t> failed{0};
  std::atomic<bool> stop{false};
  std::vector<clock::time_point> started;
  std::vector<double> latency_ms;
  std::vector<run_result> results;  // slot per run, written once by its callback
  std::mutex mu;
  std::condition_variable all_done;
  std::string first_error;
};

// Starts run number `i`; its callback starts the next one, which keeps
// exactly `concurrency` runs in flight without a driver loop.
void start_one(const std::shared_ptr<load_state>& st, std::int64_t i) {
  st->started[static_cast<std::size_t>(i)] = clock::now();
  st->eng->run(st->flow, st->inputs, st->ro, [st, i](run_result r) {
    auto idx = static_cast<std::size_t>(i);
    st->latency_ms[idx] =
        std::chrono::duration<double, std::milli>(clock::now() - st->started[idx]).count();
    if (!r.ok) {
      if (st->failed.fetch_add(1) == 0) {
        std::lock_guard<std::mutex> lk(st->mu);
        st->first_error = r.error;
      }
    }
    st->results[idx] = std::move(r);
    if (!st->stop.load()) {
      auto n = st->next.fetch_add(1);
      if (n < st->total) start_one(st, n);
    }
    if (st->finished.fetch_add(1) + 1 == st->total) {
      std::lock_guard<std::mutex> lk(st->mu);
      st->all_done.notify_all();
    }
  });
}

// Called after the engine opened the trace file (O_APPEND) and before any
// run: truncating it now leaves nothing of an earlier load for the audit,
// and the sink's appends then start at offset 0.
bool prepare_trace_file(engine& eng, const load_opts& o) {
  const auto& file = eng.trace_file();
  if (file.empty()) return true;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return true;  // a FIFO, /dev/...
  if (!o.trace_file.empty()) {
    if (st.st_size > 0 && ::truncate(file.c_str(), 0) != 0) {
      std::cerr << "weft: error: cannot truncate trace file '" << file
                << "': " << std::generic_category().message(errno) << '\n';
      return false;
    }
  } else if (st.st_size > 0) {
    std::cerr << "weft: appending to trace file '" << file << "' (" << st.st_size
              << " bytes already); the audit reads all of it (--trace-file PATH starts a "
                 "file afresh)\n";
  }
  return true;
}

// The trace file, then the workers' (comma-separated) files.
std::vector<std::string> audit_files(const std::string& file, const std::string& more) {
  std::vector<std::string> files;
  if (!file.empty()) files.push_back(file);
  std::stringstream in(more);
  for (std::string f; std::getline(in, f, ',');)
    if (!f.empty()) files.push_back(f);
  return files;
}

// A fixed-shape flow has a span count to check: its nodes and its run,
// plus the front's dispatch span for a run that went to a worker, or only
// that span when the workers' files are not read. A run with branches or
// child runs has as many spans as it took paths: a worker's run then has at
// least the dispatch span and the worker's run span. A run with placed
// nodes stays here, its placed nodes' spans in the workers' files.
std::size_t expected_spans(const run_result& r, const flows::plan& flow, bool whole,
                           std::size_t& min_spans) {
  const bool remote = !r.worker.empty() || r.worker_lost;
  if (remote && !whole) return 1;
  if (flow.placed && !whole) {
    // Its placed nodes' spans are in the workers' files, not read here.
    min_spans = 1;
    return 0;
  }
  if (remote && (!r.ok || !flow.fixed_shape)) {
    // A lost run may have nothing on the worker's side.
    min_spans = r.ok ? 2 : 0;
    return 0;
  }
  if (!r.ok || !flow.fixed_shape) return 0;
  return flow.nodes.size() + 1 + (remote ? 1 : 0);
}

struct audit_outcome {
  tracing::audit_report report;
  std::string error, bad_lines_note;
  double seconds = 0;
  std::size_t spans_read = 0, peak_held = 0;
};

// One streamed pass over the files: the auditor keeps a compact record of
// each span of our traces until its trace is complete, never the spans.
audit_outcome audit_once(const std::vector<std::string>& files,
                         std::vector<tracing::audit_expectation> expect) {
  audit_outcome out;
  auto a0 = clock::now();
  tracing::trace_auditor auditor(std::move(expect));
  std::size_t bad_lines = 0;
  std::string first_bad;
  for (const auto& f : files) {
    auto summary = tracing::read_otlp_json_file(
        f, [&auditor](tracing::span_record&& s, const tracing::resource_info&) { auditor.add(s); });
    if (!summary.open_error.empty() && out.error.empty()) out.error = summary.open_error;
    out.spans_read += summary.spans;
    bad_lines += summary.bad_lines;
    if (first_bad.empty() && !summary.errors.empty()) first_bad = summary.errors.front().message;
  }
  out.report = auditor.finish();
  out.seconds = std::chrono::duration<double>(clock::now() - a0).count();
  out.peak_held = auditor.peak_spans_held();
  if (bad_lines) {
    out.bad_lines_note = std::to_string(bad_lines) + " unreadable line(s) in the trace file" +
                         (files.size() > 1 ? "s" : "");
    if (!first_bad.empty()) out.bad_lines_note += "; first: " + first_bad;
  }
  return out;
}

}  // namespace

int load_command(const load_opts& o) {
  auto eng = make_engine(o);
  if (!eng) return exit_usage;
  auto st = std::make_shared<load_state>();
  st->eng = eng.get();
  st->flow = load_flow(*eng, o.flow_path);
  if (!st->flow) return exit_usage;
  auto inputs = make_inputs(*st->flow, o);
  if (!inputs) return exit_usage;
  if (auto problems = eng->prepare_inputs(st->flow, *inputs); !problems.empty()) {
    for (const auto& p : problems) std::cerr << "weft: error: " << p.to_string() << '\n';
    return exit_usage;
  }
  st->inputs = std::move(*inputs);
  st->ro.session_id = o.session_id;
  st->ro.user_id = o.user_id;
  if (o.timeout_ms > 0) st->ro.timeout_ms = o.timeout_ms;
  st->total = o.runs;
  st->started.resize(static_cast<std::size_t>(o.runs));
  st->latency_ms.resize(static_cast<std::size_t>(o.runs));
  st->results.resize(static_cast<std::size_t>(o.runs));

  // The trace file holds this load's spans only: --trace-file starts it
  // afresh. A file from WEFT_TRACE_FILE, the config file or the default is
  // appended to, as `weft run` does, and the audit reads it whole.
  if (!prepare_trace_file(*eng, o)) return exit_usage;

  install_signal_flag();
  bool progress = !o.no_progress && !o.json && isatty(STDERR_FILENO);
  auto t0 = clock::now();
  auto first = std::min(o.concurrency, o.runs);
  st->next = first;
  for (std::int64_t i = 0; i < first; ++i) start_one(st, i);
  {
    std::unique_lock<std::mutex> lk(st->mu);
    while (!st->all_done.wait_for(lk, std::chrono::milliseconds(100),
                                  [&] { return st->finished.load() >= st->total; })) {
      if (interrupted() && !st->stop.exchange(true)) {
        // No new runs; the ones in flight finish, and their spans are kept.
        st->total = std::min(st->next.load(), st->total.load());
      }
      if (progress) draw_progress(st->finished.load(), st->total);
    }
  }
  double secs = std::chrono::duration<double>(clock::now() - t0).count();
  if (progress) {
    draw_progress(st->total, st->total);
    std::fputc('\n', stderr);
  }
  bool flushed = eng->shutdown();
  auto stats = eng->stats();

  const auto total = static_cast<std::size_t>(st->total);
  const std::int64_t failed = st->failed.load();
  load_totals totals{st->total,
                     st->total - failed,
                     failed,
                     secs,
                     {st->latency_ms.begin(), st->latency_ms.begin() + static_cast<long>(total)}};
  std::sort(totals.latency_ms.begin(), totals.latency_ms.end());

  // The audit: every sampled run that succeeded must have produced one
  // complete, correctly parented trace in the file (and in the workers'
  // files, for runs that went to workers).
  const auto& file = eng->trace_file();
  auto files = audit_files(file, o.audit_trace_files);
  std::vector<tracing::audit_expectation> expect;
  if (!file.empty()) {
    const bool whole = !o.audit_trace_files.empty();
    for (std::size_t i = 0; i < total; ++i) {
      auto& r = st->results[i];
      if (!r.sampled || r.trace_id.empty()) continue;
      tracing::audit_expectation e;
      e.trace = *tracing::trace_id::from_hex(r.trace_id);
      e.run_id = r.run_id;
      e.session_id = o.session_id;
      e.user_id = o.user_id;
      e.expected_spans = expected_spans(r, *st->flow, whole, e.min_spans);
      expect.push_back(std::move(e));
    }
  }
  if (!o.workers.empty() && o.audit_trace_files.empty() && !o.json)
    std::cerr << "weft: audit: runs on workers are audited by their dispatch span only; "
                 "--audit-trace-files W0.jsonl,... adds the workers' spans\n";
  // The workers write on their own schedule: their files may still lag
  // behind the last runs. Read again until clean, or until the wait is up.
  audit_outcome a;
  const auto wait_until = clock::now() + std::chrono::milliseconds(o.audit_wait_ms);
  int rounds = 0;
  while (!file.empty()) {
    a = audit_once(files, expect);
    ++rounds;
    if (a.report.ok() || o.audit_trace_files.empty() || clock::now() >= wait_until) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  auto& audit = a.report;
  auto& audit_error = a.error;
  auto& bad_lines_note = a.bad_lines_note;
  const double audit_secs = a.seconds;
  const std::size_t audit_spans_read = a.spans_read, audit_peak_held = a.peak_held;
  if (rounds > 1 && !o.json)
    std::cerr << "weft: audit: read the files " << rounds << " times while the workers' spans "
              << "arrived\n";

  // Where the runs went, with --workers.
  std::map<std::string, std::int64_t> ran_on;
  if (!o.workers.empty())
    for (std::size_t i = 0; i < total; ++i) {
      const auto& r = st->results[i];
      ++ran_on[r.worker_lost      ? "(lost)"
               : r.no_worker      ? "(no worker)"
               : r.worker.empty() ? "(local)"
                                  : r.worker];
    }

  if (o.json) {
    flows::value j = summary_json(totals);
    if (!ran_on.empty()) {
      j["workers"] = flows::value::object();
      for (auto& [w, n] : ran_on) j["workers"][w] = n;
    }
    j["audit"] = {{"traces", audit.traces},
                  {"spans", audit.spans},
                  {"problems", audit.problem_count},
                  {"problem_samples", audit.problems},
                  {"seconds", audit_secs},
                  {"file_spans_read", audit_spans_read},
                  {"peak_spans_held", audit_peak_held}};
    j["export"] = {{"spans_received", stats.spans_received},
                   {"spans_dropped", stats.total_dropped()},
                   {"flushed", flushed},
                   {"sinks", flows::value::array()}};
    for (auto& k : stats.sinks)
      j["export"]["sinks"].push_back({{"name", k.name},
                                      {"received", k.received},
                                      {"exported", k.exported},
                                      {"retried", k.retried},
                                      {"spooled", k.spooled},
                                      {"replayed", k.replayed},
                                      {"dead_lettered_batches", k.dead_lettered_batches},
                                      {"dropped", k.dropped},
                                      {"queued", k.queued},
                                      {"spool_bytes", k.spool_bytes},
                                      {"spool_records_damaged", k.spool_records_damaged},
                                      {"spool_bytes_quarantined", k.spool_bytes_quarantined}});
    std::cout << j.dump() << std::endl;
  } else {
    print_summary_head(totals);
    if (!ran_on.empty()) {
      std::printf("ran on");
      for (auto& [w, n] : ran_on) std::printf("  %s %lld", w.c_str(), static_cast<long long>(n));
      std::printf("\n");
    }
    std::printf("audit  traces %zu  spans %zu  problems %zu  (%zu spans read in %.3f s)\n",
                audit.traces, audit.spans, audit.problem_count, audit_spans_read, audit_secs);
    std::printf("%s\n", stats.to_string().c_str());
    if (!file.empty())
      std::printf("trace file %s%s\n", file.c_str(), flushed ? "" : " (flush incomplete)");
  }
  for (auto& p : audit.problems) std::cerr << "weft: audit: " << p << '\n';
  if (!audit_error.empty()) std::cerr << "weft: audit: " << audit_error << '\n';
  if (!bad_lines_note.empty()) std::cerr << "weft: audit: " << bad_lines_note << '\n';
  if (failed)
    std::cerr << "weft: " << failed << " run(s) failed; first error: " << st->first_error << '\n';
  return (failed || !audit.ok() || !audit_error.empty()) ? exit_run_failed : exit_ok;
}

}  // namespace weft::cli
