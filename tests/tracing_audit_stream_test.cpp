// The streaming trace audit (tracing/audit.hpp's trace_auditor) and `weft
// load`'s use of it: spans are fed one at a time, a fixed-shape trace is
// audited as soon as it is complete and then forgotten, and a real `weft
// load` auditing a trace file of hundreds of MB keeps its peak RSS flat.
//
// The size of the big file is WEFT_AUDIT_FILE_MB (256 by default; 1024 for
// the "1 GB trace file" of issue 12, by hand).
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/weft_command.hpp"
#include "tracing/audit.hpp"
#include "tracing/otlp_json.hpp"

namespace fs = std::filesystem;
using weft::tracing::audit_expectation;
using weft::tracing::audit_report;
using weft::tracing::audit_traces;
using weft::tracing::span_id;
using weft::tracing::span_record;
using weft::tracing::trace_auditor;
using weft::tracing::trace_id;

namespace {

trace_id tid(std::uint64_t n) {
  trace_id t;
  for (int i = 0; i < 8; ++i) t.bytes[15 - i] = static_cast<std::uint8_t>(n >> (8 * i));
  t.bytes[0] = 0x7e;
  return t;
}

std::string run_of(std::uint64_t n) { return "run-" + std::to_string(n); }

// Trace `n` as a chain10 run writes it: the run's span and ten node spans,
// nodes first (they end first), each carrying what weft puts on spans.
std::vector<span_record> chain_trace(std::uint64_t n, const std::string& session = "s") {
  std::vector<span_record> out;
  const std::uint64_t base = n * 100;
  for (int i = 0; i <= 10; ++i) {
    span_record s;
    s.trace = tid(n);
    s.id.value = base + static_cast<std::uint64_t>(i) + 1;
    s.name = i == 0 ? "chain10" : "n" + std::to_string(i);
    if (i > 0) s.parent.value = base + 1;
    s.start_unix_ns = 1'000'000'000 + n;
    s.end_unix_ns = s.start_unix_ns + 1000;
    s.set("weft.run.id", run_of(n));
    s.set("weft.root_run.id", run_of(n));
    s.set("weft.flow", "chain10");
    if (i > 0) {
      s.set("weft.node.id", s.name);
      s.set("weft.node.type", "passthrough");
      s.set("weft.node.inputs", R"({"value":"x"})");
      s.set("weft.node.outputs", R"({"value":"x"})");
    }
    s.set("session.id", session);
    s.set("user.id", "u");
    out.push_back(std::move(s));
  }
  std::rotate(out.begin(), out.begin() + 1, out.end());  // the run's span last
  return out;
}

audit_expectation expect_chain(std::uint64_t n) {
  audit_expectation e;
  e.trace = tid(n);
  e.run_id = run_of(n);
  e.session_id = "s";
  e.user_id = "u";
  e.expected_spans = 11;
  return e;
}

std::string all(const audit_report& r) {
  std::string out;
  for (auto& p : r.problems) out += p + "\n";
  return out;
}

}  // namespace

TEST_CASE("the streaming audit forgets each fixed-shape trace once complete",
          "[tracing][audit][stream]") {
  // 20,000 runs, 64 in flight: their spans interleave the way concurrent
  // runs' spans reach a trace file, with spans of unaudited traces between.
  constexpr std::uint64_t runs = 20000, window = 64;
  std::vector<audit_expectation> expect;
  for (std::uint64_t n = 0; n < runs; ++n) expect.push_back(expect_chain(n));
  trace_auditor a(std::move(expect));
  std::vector<std::vector<span_record>> open;
  std::vector<std::size_t> next;
  std::uint64_t started = 0;
  std::size_t fed = 0;
  while (started < runs || !open.empty()) {
    while (open.size() < window && started < runs)
      open.push_back(chain_trace(started++)), next.push_back(0);
    for (std::size_t k = 0; k < open.size();) {
      a.add(open[k][next[k]]);
      a.add(chain_trace(1'000'000 + fed++ % 7)[3]);  // a foreign trace's span
      if (++next[k] == open[k].size()) {
        open.erase(open.begin() + static_cast<long>(k));
        next.erase(next.begin() + static_cast<long>(k));
      } else {
        ++k;
      }
    }
  }
  CHECK(a.spans_held() == 0);
  CHECK(a.peak_spans_held() <= window * 11);
  auto rep = a.finish();
  INFO(all(rep));
  CHECK(rep.ok());
  CHECK(rep.traces == runs);
  CHECK(rep.spans == runs * 11);
}

TEST_CASE("the streaming audit finds what audit_traces finds in a complete trace",
          "[tracing][audit][stream]") {
  std::vector<audit_expectation> expect{expect_chain(1), expect_chain(2), expect_chain(3)};
  std::vector<span_record> spans;
  auto t1 = chain_trace(1);
  t1[4].parent.value = 999;  // an orphan
  auto t2 = chain_trace(2);
  t2[2].attributes.clear();  // no run, no session, no user
  t2[2].set("weft.run.id", "other");
  t2[2].set("weft.root_run.id", "other");
  auto t3 = chain_trace(3);
  t3[5].id = t3[6].id;  // a duplicate id
  for (auto* t : {&t1, &t2, &t3}) spans.insert(spans.end(), t->begin(), t->end());

  auto whole = audit_traces(spans, expect);
  trace_auditor a(expect);
  for (auto& s : spans) a.add(s);
  CHECK(a.peak_spans_held() == 11);  // one trace at a time
  auto streamed = a.finish();
  CHECK_FALSE(whole.ok());
  CHECK(streamed.problem_count == whole.problem_count);
  CHECK(streamed.problems == whole.problems);
  CHECK_THAT(all(streamed), Catch::Contains("has parent 00000000000003e7, which is not a span"));
  CHECK_THAT(all(streamed), Catch::Contains("belongs to top-level run 'other', expected 'run-2'"));
  CHECK_THAT(all(streamed), Catch::Contains("session.id is '', expected 's'"));
  CHECK_THAT(all(streamed), Catch::Contains("appears twice"));
}

TEST_CASE("the streaming audit reports spans that come after their trace was audited",
          "[tracing][audit][stream]") {
  trace_auditor a({expect_chain(1), expect_chain(2), expect_chain(3)});
  for (auto& s : chain_trace(1)) a.add(s);
  auto late = chain_trace(1, "intruder")[0];
  late.id.value = 4242;
  a.add(late);
  auto t2 = chain_trace(2);
  t2.pop_back();  // the run's span never arrives
  for (auto& s : t2) a.add(s);
  CHECK(a.spans_held() == 10);
  auto rep = a.finish();
  INFO(all(rep));
  CHECK(rep.traces == 2);
  CHECK(rep.spans == 22);
  CHECK_THAT(all(rep), Catch::Contains("trace " + tid(1).to_hex() + ": 12 spans, expected 11"));
  CHECK_THAT(all(rep), Catch::Contains("(0000000000001092) of run 'run-1': session.id is "
                                       "'intruder', expected 's'"));
  CHECK_THAT(all(rep), Catch::Contains("trace " + tid(2).to_hex() + ": 10 spans, expected 11"));
  CHECK_THAT(all(rep), Catch::Contains("0 root spans, expected exactly 1"));
  CHECK_THAT(all(rep), Catch::Contains("trace " + tid(3).to_hex() + ": no spans found"));
}

namespace {

struct child_result {
  int code = -1;
  long max_rss_kib = 0;
  std::string out, err;
};

// `weft ARGS` as a direct child with `env` added, waited for with wait4 so
// that ru_maxrss is this process's peak RSS alone.
child_result run_weft_rusage(const std::vector<std::string>& args,
                             const std::vector<std::string>& env) {
  auto dir = weft::test::scratch_dir("weft-audit-stream");
  auto out_path = dir / "out", err_path = dir / "err";
  std::vector<std::string> argv_s{WEFT_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<std::string> env_s = env;
  for (char** e = environ; *e; ++e) env_s.emplace_back(*e);
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int o = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::chdir(dir.c_str()) != 0) _exit(127);
    ::dup2(o, 1);
    ::dup2(e, 2);
    ::execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  child_result r;
  int status = 0;
  struct rusage ru {};
  REQUIRE(::wait4(pid, &status, 0, &ru) == pid);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.max_rss_kib = ru.ru_maxrss;
  std::ifstream o(out_path), e(err_path);
  r.out.assign(std::istreambuf_iterator<char>(o), {});
  r.err.assign(std::istreambuf_iterator<char>(e), {});
  return r;
}

std::string src(const std::string& rel) { return std::string(WEFT_SOURCE_DIR) + "/" + rel; }

// Writes about `mb` MB of OTLP/JSON lines of chain10-like spans of traces
// no load will audit; returns how many spans it wrote.
std::size_t write_big_trace_file(const fs::path& path, std::size_t mb) {
  std::vector<span_record> batch;
  for (std::uint64_t n = 0; batch.size() < 500; ++n)
    for (auto& s : chain_trace(5'000'000 + n)) batch.push_back(std::move(s));
  std::string line;
  weft::tracing::append_export_request(line, batch, {"weft", "test"});
  line += '\n';
  const std::size_t lines = mb * 1024 * 1024 / line.size() + 1;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f);
  for (std::size_t i = 0; i < lines; ++i)
    REQUIRE(std::fwrite(line.data(), 1, line.size(), f) == line.size());
  REQUIRE(std::fclose(f) == 0);
  return lines * batch.size();
}

}  // namespace

TEST_CASE("weft load audits a trace file of hundreds of MB with flat memory",
          "[cli][load][audit][stream][slow]") {
  std::size_t mb = 256;
  if (const char* v = std::getenv("WEFT_AUDIT_FILE_MB")) mb = std::stoul(v);
  auto dir = weft::test::scratch_dir("weft-audit-stream");
  auto small = dir / "small.jsonl", big = dir / "big.jsonl";
  fs::remove(small);

  // The same load with an empty trace file, for the RSS the runs take.
  auto base = run_weft_rusage({"load", src("examples/chain10.yaml"), "--runs", "2000",
                               "--concurrency", "64", "--json", "--no-progress"},
                              {"WEFT_TRACE_FILE=" + small.string()});
  INFO(base.err);
  REQUIRE(base.code == 0);

  auto t0 = std::chrono::steady_clock::now();
  const std::size_t foreign = write_big_trace_file(big, mb);
  const double write_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Without --trace-file, load appends to WEFT_TRACE_FILE and audits all of it.
  auto r = run_weft_rusage({"load", src("examples/chain10.yaml"), "--runs", "2000", "--concurrency",
                            "64", "--json", "--no-progress"},
                           {"WEFT_TRACE_FILE=" + big.string()});
  const auto size = fs::file_size(big);
  fs::remove(big);
  fs::remove(small);
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["audit"]["traces"] == 2000);
  CHECK(j["audit"]["spans"] == 22000);
  CHECK(j["audit"]["problems"] == 0);
  CHECK(j["audit"]["file_spans_read"] == foreign + 22000);
  CHECK_THAT(r.err, Catch::Contains("appending to trace file"));
  const double audit_s = j["audit"]["seconds"].get<double>();
  WARN("trace file " << size / (1024 * 1024) << " MiB (" << foreign + 22000 << " spans, written in "
                     << write_s << " s): weft load peak RSS " << r.max_rss_kib / 1024 << " MiB ("
                     << base.max_rss_kib / 1024 << " MiB with an empty file), audit " << audit_s
                     << " s");
  // Holding the file's spans took over 1 KiB of RSS per span (280 MB for
  // 440,000); the streaming audit holds none of them: a few MiB over the
  // same load's RSS with an empty file, whatever the size of the file.
  CHECK(r.max_rss_kib < base.max_rss_kib + 16 * 1024);
}

TEST_CASE("weft load --trace-file truncates the file; without it, load appends and says so",
          "[cli][load][audit][stream]") {
  auto dir = weft::test::scratch_dir("weft-audit-stream");
  auto path = dir / "old.jsonl";
  auto write_old = [&] {
    std::vector<span_record> old = chain_trace(77);
    std::ofstream f(path, std::ios::trunc);
    f << weft::tracing::encode_export_request(old, {"weft", "test"}) << "\nnot json\n";
  };
  write_old();
  auto r = run_weft_rusage({"load", src("examples/chain10.yaml"), "--runs", "20", "--concurrency",
                            "4", "--json", "--no-progress", "--trace-file", path.string()},
                           {});
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  CHECK(j["audit"]["traces"] == 20);
  CHECK(j["audit"]["file_spans_read"] == 220);  // the old spans are gone
  CHECK(r.err.find("appending") == std::string::npos);
  CHECK(r.err.find("unreadable") == std::string::npos);
  {
    std::ifstream f(path);
    std::string text((std::istreambuf_iterator<char>(f)), {});
    CHECK(text.find("run-77") == std::string::npos);
    CHECK(text.find("not json") == std::string::npos);
  }

  write_old();
  r = run_weft_rusage({"load", src("examples/chain10.yaml"), "--runs", "20", "--concurrency", "4",
                       "--json", "--no-progress"},
                      {"WEFT_TRACE_FILE=" + path.string()});
  REQUIRE(r.code == 0);
  j = nlohmann::json::parse(r.out);
  CHECK(j["audit"]["traces"] == 20);
  CHECK(j["audit"]["problems"] == 0);
  CHECK(j["audit"]["file_spans_read"] == 231);  // the old trace is read, not audited
  CHECK_THAT(r.err, Catch::Contains("weft: appending to trace file '" + path.string() + "'"));
  CHECK_THAT(r.err, Catch::Contains("1 unreadable line(s) in the trace file; first: " +
                                    path.string() + ":2: invalid JSON"));
  fs::remove(path);
}
