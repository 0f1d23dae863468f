// `weft load --workers`: the binary as a front for two `weft worker`
// processes on loopback. The runs spread over both, and the audit reads the
// front's file with the workers' files, so it sees each run's whole trace;
// given too few files, it reports the traces it could not see whole.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <signal.h>

#include "support/cluster_workers.hpp"
#include "support/weft_command.hpp"

using namespace weft::test;
using nlohmann::json;

namespace {

struct two_workers {
  flow_dir dir;
  std::unique_ptr<worker_process> w0, w1;
  std::string inputs;

  two_workers() {
    dir.write("flows/ticket.yaml", example("ticket.yaml"));
    inputs = dir.write("in.json", R"({"item": {"text": "db down", "score": 0.9}})");
    w0 = start_worker(dir, "w0");
    w1 = start_worker(dir, "w1");
  }

  // `weft load` of ticket.yaml through both workers, its JSON summary.
  json load(int runs, int concurrency, const std::string& audit_files, proc_result& raw) {
    raw = run_weft("load '" + (dir.path() / "flows/ticket.yaml").string() + "' --inputs '" +
                       inputs + "' --runs " + std::to_string(runs) + " --concurrency " +
                       std::to_string(concurrency) + " --workers " + at(*w0) + "," + at(*w1) +
                       " --trace-file '" + (dir.path() / "front.jsonl").string() + "'" +
                       audit_files + " --audit-wait-ms 1500 --json --no-progress",
                   cluster_key);
    auto j = json::parse(raw.out, nullptr, false);
    return j.is_discarded() ? json() : j;
  }

  std::string file(const std::string& name) const { return (dir.path() / name).string(); }
};

}  // namespace

TEST_CASE("weft load --workers: 2000 runs over two workers audit whole across their files",
          "[cluster][cli][hardening]") {
  two_workers c;
  proc_result raw;
  auto j =
      c.load(2000, 200,
             " --audit-trace-files '" + c.file("w0.jsonl") + "," + c.file("w1.jsonl") + "'", raw);
  INFO(raw.err);
  REQUIRE(raw.code == 0);
  CHECK(j["ok"] == 2000);
  CHECK(j["workers"]["w0"].get<int>() > 0);
  CHECK(j["workers"]["w1"].get<int>() > 0);
  CHECK(j["workers"]["w0"].get<int>() + j["workers"]["w1"].get<int>() == 2000);
  CHECK(j["audit"]["traces"] == 2000);
  CHECK(j["audit"]["problems"] == 0);
  // The dispatch span on the front, and the run and its nodes on a worker:
  // ticket.yaml takes route and escalate for an urgent item.
  CHECK(j["audit"]["spans"] == 2000 * 5);
  CHECK(c.w0->stop(SIGTERM) == 0);
  CHECK(c.w1->stop(SIGTERM) == 0);
}

TEST_CASE("weft load --workers: the audit names the traces it could not see whole",
          "[cluster][cli][hardening]") {
  two_workers c;
  SECTION("one worker's file left out") {
    proc_result raw;
    auto j = c.load(200, 20, " --audit-trace-files '" + c.file("w0.jsonl") + "'", raw);
    INFO(raw.err);
    CHECK(raw.code == 1);
    CHECK(j["ok"] == 200);
    // w1's runs have only their dispatch span in the files read.
    CHECK(j["audit"]["problems"] == j["workers"]["w1"]);
    CHECK_THAT(raw.err, Catch::Contains("1 spans, expected at least 2"));
  }
  SECTION("no worker file: the dispatch spans alone, and a hint") {
    proc_result raw;
    auto j = c.load(200, 20, "", raw);
    INFO(raw.err);
    CHECK(raw.code == 0);
    CHECK(j["audit"]["spans"] == 200);
  }
  SECTION("--audit-trace-files without --workers is a usage error") {
    auto raw = run_weft("load '" + c.file("flows/ticket.yaml") + "' --audit-trace-files x.jsonl");
    CHECK(raw.code == 2);
    CHECK_THAT(raw.err, Catch::Contains("give --workers too"));
  }
}
