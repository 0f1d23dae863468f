// A damaged spool found at start, end to end (issue 14, point 8): the
// engine's OTLP sink replays what is intact to a real loopback collector,
// and the damage shows in the stats, in /metrics and in `weft load --json`.
#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "serve/metrics.hpp"
#include "support/engine_fixture.hpp"
#include "support/prometheus_text.hpp"
#include "support/spool_files.hpp"
#include "support/test_collector.hpp"
#include "support/weft_command.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft;
namespace fs = std::filesystem;
using weft::test::test_collector;

namespace {

engine_options otlp_to(const test_collector& c, const fs::path& spool_root) {
  engine_options o;
  o.settings.tracing.batch_delay_ms = 20;
  config::otlp_settings s;
  s.endpoint = c.base_url() + "/v1/traces";
  s.timeout_ms = 5000;
  o.settings.exporter.otlp = s;
  o.settings.exporter.spool_dir = spool_root.string();
  o.settings.exporter.retry_initial_ms = 50;
  o.settings.exporter.shutdown_timeout_ms = 30000;
  return o;
}

std::map<std::uint64_t, int> received_ids(const test_collector& c) {
  std::map<std::uint64_t, int> ids;
  for (auto& r : c.requests())
    if (r.answered_status == 200)
      for (auto& s : tracing::read_otlp_json_line(r.body, nullptr)) ++ids[s.id.value];
  return ids;
}

}  // namespace

TEST_CASE("spool damage end to end: one bad crc costs one record, and the counters show it",
          "[exporter][spool][damage]") {
  test::spool_scratch root("e2e");
  const auto dir = root.path / "otlp";
  auto layout = test::write_spool(dir, 550, 100, 3);
  REQUIRE(layout.segments.size() == 3);
  test::flip_bits(layout.records[300].segment, layout.records[300].offset + 4, 0x01);
  const auto quarantined = fs::file_size(layout.records[300].segment);

  test_collector c;
  engine eng(otlp_to(c, root.path));
  REQUIRE(c.wait_for([&] { return received_ids(c).size() >= 54'900; }, std::chrono::seconds(60)));
  REQUIRE(eng.shutdown());
  auto ids = received_ids(c);
  CHECK(ids.size() == 54'900);
  std::size_t dups = 0;
  for (auto& [_, n] : ids) dups += static_cast<std::size_t>(n - 1);
  CHECK(dups == 0);

  auto stats = eng.stats();
  const exporting::sink_stats* otlp = nullptr;
  for (auto& s : stats.sinks)
    if (s.name == "otlp") otlp = &s;
  REQUIRE(otlp);
  CHECK(otlp->replayed == 54'900);
  CHECK(otlp->spool_records_damaged == 1);
  CHECK(otlp->spool_bytes_quarantined == quarantined);
  CHECK(fs::exists(layout.records[300].segment.string() + ".damaged"));
  CHECK_THAT(stats.to_string(), Catch::Contains("spool records damaged 1"));

  serve::metrics m;
  auto parsed = test::prometheus::parse(m.render(stats));
  INFO(parsed.error);
  REQUIRE(parsed);
  CHECK(test::prometheus::sample_value(parsed.doc, "weft_spool_records_damaged_total",
                                       {{"sink", "otlp"}}) == 1);
  CHECK(test::prometheus::sample_value(parsed.doc, "weft_spool_bytes_quarantined",
                                       {{"sink", "otlp"}}) == static_cast<double>(quarantined));
}

TEST_CASE("spool damage end to end: weft load --json reports the damage",
          "[exporter][spool][damage][cli]") {
  test::spool_scratch root("cli");
  auto layout = test::write_spool(root.path / "otlp", 30, 10, 1);
  test::flip_bits(layout.records[5].segment, layout.records[5].offset + 20, 0x80);
  test_collector c;
  auto r =
      test::run_weft("load '" WEFT_SOURCE_DIR
                     "/examples/hello.yaml' --runs 2 --concurrency 1 -i name=x --json "
                     "--trace-file '" +
                         (root.path / "t.jsonl").string() + "'",
                     "WEFT_SPOOL_DIR='" + root.path.string() +
                         "' OTEL_EXPORTER_OTLP_TRACES_ENDPOINT='" + c.base_url() + "/v1/traces'");
  INFO(r.err);
  REQUIRE(r.code == 0);
  auto j = nlohmann::json::parse(r.out);
  bool seen = false;
  for (auto& s : j["export"]["sinks"]) {
    if (s["name"] != "otlp") continue;
    seen = true;
    CHECK(s["spool_records_damaged"] == 1);
    CHECK(s["spool_bytes_quarantined"] == fs::file_size(layout.segments[0].string() + ".damaged"));
    // 29 intact records of 10 spans, and the two runs' 6 spans (which may
    // have queued behind the replay, so be replayed themselves).
    CHECK(s["exported"] == 296);
    CHECK(s["replayed"] >= 290);
  }
  CHECK(seen);
}
