// Kill and restart: a `weft load` child process spools while its backend is
// down and is killed with SIGKILL; an engine started later on the same spool
// delivers every span that had reached the spool. Asserted on span ids.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <filesystem>
#include <set>
#include <thread>

#include "support/engine_fixture.hpp"
#include "support/test_collector.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "tracing/spool.hpp"

extern char** environ;

using namespace weft;
namespace fs = std::filesystem;
using weft::test::test_collector;

namespace {

std::uintmax_t spool_bytes(const fs::path& dir) {
  std::uintmax_t n = 0;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec))
    if (e.path().extension() == ".wspool") n += e.file_size();
  return n;
}

// Every span id in a spool, read from a copy so the original stays as is.
std::set<std::uint64_t> spooled_ids(const fs::path& dir) {
  auto copy = dir.string() + "-copy";
  fs::remove_all(copy);
  fs::copy(dir, copy, fs::copy_options::recursive);
  std::string err;
  auto sp = tracing::spool::open(copy, {}, &err);
  REQUIRE(sp);
  std::set<std::uint64_t> ids;
  while (auto e = sp->peek()) {
    for (auto& s : e->spans) ids.insert(s.id.value);
    sp->ack(*e);
  }
  return ids;
}

}  // namespace

TEST_CASE("a SIGKILLed engine's spool is delivered by the next engine", "[exporter][restart]") {
  test_collector c;
  auto port = c.port();
  c.stop();
  auto root = fs::temp_directory_path() / ("weft-restart-" + std::to_string(getpid()));
  fs::remove_all(root);
  auto sink_dir = fs::path(tracing::spool_dir(root.string(), "otlp"));

  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back("OTEL_EXPORTER_OTLP_ENDPOINT=" + c.base_url());
  env_strings.push_back("WEFT_SPOOL_DIR=" + root.string());
  env_strings.emplace_back("WEFT_EXPORT_RETRY_INITIAL_MS=50");
  env_strings.emplace_back("WEFT_EXPORT_RETRY_MAX_MS=200");
  env_strings.emplace_back("WEFT_EXPORT_SHUTDOWN_TIMEOUT_MS=60000");  // it will not get that far
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bin = WEFT_BINARY, flow = std::string(WEFT_SOURCE_DIR) + "/examples/chain10.yaml";
  std::string trace = (root / "unused.jsonl").string();
  std::vector<std::string> args = {
      bin,  "load",          flow,           "--runs", "3000", "--concurrency",
      "64", "--no-progress", "--trace-file", trace};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, bin.c_str(), nullptr, nullptr, argv.data(), envp.data()) == 0);

  // Wait until the child has spooled a good part of its spans, then kill it
  // in the middle of its work: no shutdown, no flush, no fsync of its own.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (spool_bytes(sink_dir) < 2'000'000 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(spool_bytes(sink_dir) > 0);

  auto expected = spooled_ids(sink_dir);
  REQUIRE(expected.size() > 1000);

  c.start();
  REQUIRE(c.port() == port);
  engine_options o;
  config::otlp_settings s;
  s.endpoint = c.base_url() + "/v1/traces";
  o.settings.exporter.otlp = s;
  o.settings.exporter.spool_dir = root.string();
  o.settings.exporter.retry_initial_ms = 50;
  o.settings.exporter.retry_max_ms = 200;
  {
    engine eng(std::move(o));
    REQUIRE(eng.shutdown());
    auto st = eng.stats();
    CHECK(st.sinks.at(0).replayed >= expected.size());
  }
  std::set<std::uint64_t> got;
  for (auto& r : c.requests()) {
    if (r.answered_status != 200) continue;
    for (auto& sp : tracing::read_otlp_json_line(r.body, nullptr)) got.insert(sp.id.value);
  }
  std::size_t missing = 0;
  for (auto id : expected) missing += got.count(id) ? 0 : 1;
  CHECK(missing == 0);
  CHECK(spool_bytes(sink_dir) == 0);
}
