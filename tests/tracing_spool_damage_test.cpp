// Damaged spools (issue 14, point 8): real segment files with 55,000 spans
// in 550 records over 3 segments are damaged the way a disk or a careless
// hand would, then replayed. Only the records that were hit may be lost;
// damaged segments are quarantined, never deleted; the counters say so.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "support/spool_files.hpp"
#include "tracing/spool.hpp"

using namespace weft::tracing;
using namespace weft::test;
namespace fs = std::filesystem;

namespace {

struct replayed {
  std::vector<std::string> names;
  std::size_t spans = 0;
};

replayed drain_all(spool& s) {
  replayed r;
  while (auto e = s.peek()) {
    r.names.push_back(e->spans.at(0).name);
    r.spans += e->spans.size();
    s.ack(*e);
  }
  return r;
}

std::vector<std::string> names_of(const std::vector<spooled_record>& records,
                                  const std::set<std::size_t>& except = {}) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < records.size(); ++i)
    if (!except.count(i)) out.push_back(records[i].name);
  return out;
}

std::vector<fs::path> files_with_suffix(const fs::path& dir, const std::string& suffix) {
  std::vector<fs::path> out;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().ends_with(suffix)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("spool damage: one flipped crc bit loses that record only", "[spool][tracing][damage]") {
  spool_scratch dir("crc-bit");
  auto layout = write_spool(dir.path, 550, 100, 3);
  REQUIRE(layout.segments.size() == 3);
  // The 300th record sits in the middle segment.
  const std::size_t hit = 300;
  REQUIRE(layout.records[hit].segment == layout.segments[1]);
  flip_bits(layout.records[hit].segment, layout.records[hit].offset + 4, 0x01);  // the crc field
  const auto damaged_size = fs::file_size(layout.segments[1]);

  auto s = spool::open(dir.path.string(), {}, nullptr);
  REQUIRE(s);
  auto r = drain_all(*s);
  CHECK(r.names == names_of(layout.records, {hit}));
  CHECK(r.spans == 54'900);
  CHECK(s->records_damaged() == 1);
  CHECK(s->bytes_quarantined() == damaged_size);
  auto damaged = files_with_suffix(dir.path, ".damaged");
  REQUIRE(damaged.size() == 1);
  CHECK(damaged[0].string() == layout.segments[1].string() + ".damaged");
  CHECK(files_with_suffix(dir.path, ".wspool").empty());
  auto warnings = s->take_warnings();
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("crc mismatch"));

  // The quarantine survives a restart, is never replayed, and is counted.
  s.reset();
  s = spool::open(dir.path.string(), {}, nullptr);
  REQUIRE(s);
  CHECK_FALSE(s->peek());
  CHECK(s->bytes_quarantined() == damaged_size);
  CHECK(s->bytes() == damaged_size);
}

TEST_CASE("spool damage: 30 random byte flips per segment lose only the records they hit",
          "[spool][tracing][damage]") {
  spool_scratch dir("random-flips");
  auto layout = write_spool(dir.path, 550, 100, 3);
  REQUIRE(layout.segments.size() == 3);
  std::mt19937_64 rng(14);  // fixed: the same damage every run
  std::set<std::size_t> hit;
  for (auto& seg : layout.segments) {
    const auto size = fs::file_size(seg);
    std::uniform_int_distribution<std::uint64_t> where(0, size - 1);
    std::uniform_int_distribution<int> mask(1, 255);
    std::set<std::uint64_t> spots;  // distinct, so no flip undoes another
    while (spots.size() < 30) spots.insert(where(rng));
    for (auto at : spots) {
      flip_bits(seg, at, static_cast<unsigned char>(mask(rng)));
      hit.insert(layout.record_at(seg, at));
    }
  }
  // A run of neighbouring hit records is skipped in one go.
  std::size_t runs = 0;
  for (auto i : hit)
    if (!hit.count(i - 1) || layout.records[i - 1].segment != layout.records[i].segment) ++runs;
  INFO(hit.size() << " records hit in " << runs << " runs");
  REQUIRE(hit.size() <= 90);

  auto s = spool::open(dir.path.string(), {}, nullptr);
  REQUIRE(s);
  auto r = drain_all(*s);
  CHECK(r.names == names_of(layout.records, hit));
  CHECK(r.spans == (550 - hit.size()) * 100);
  CHECK(s->records_damaged() == runs);
  CHECK(files_with_suffix(dir.path, ".damaged").size() == 3);
  std::uint64_t quarantined = 0;
  for (auto& f : files_with_suffix(dir.path, ".damaged")) quarantined += fs::file_size(f);
  CHECK(s->bytes_quarantined() == quarantined);
  CHECK(files_with_suffix(dir.path, ".wspool").empty());
}

TEST_CASE("spool damage: a cursor past the last segment deletes nothing",
          "[spool][tracing][damage]") {
  spool_scratch dir("cursor");
  auto layout = write_spool(dir.path, 550, 100, 3);
  REQUIRE(layout.segments.size() == 3);

  SECTION("a cursor far past every segment") {
    std::ofstream(dir.path / "cursor", std::ios::trunc) << "weft-spool-cursor-v1 1000 0\n";
  }
  SECTION("a cursor one past the newest segment, with all three still present") {
    std::ofstream(dir.path / "cursor", std::ios::trunc)
        << "weft-spool-cursor-v1 " << layout.segment_numbers.back() + 1 << " 0\n";
  }
  SECTION("a cursor offset in the middle of a record") {
    std::ofstream(dir.path / "cursor", std::ios::trunc)
        << "weft-spool-cursor-v1 " << layout.segment_numbers.front() << " "
        << layout.records[1].offset + 3 << "\n";
  }
  auto s = spool::open(dir.path.string(), {}, nullptr);
  REQUIRE(s);
  CHECK(s->segments() == 3);
  auto warnings = s->take_warnings();
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("cursor"));
  auto r = drain_all(*s);
  CHECK(r.names == names_of(layout.records));
  CHECK(r.spans == 55'000);
  CHECK(s->records_damaged() == 0);
  CHECK(files_with_suffix(dir.path, ".damaged").empty());
}

TEST_CASE("spool damage: the one segment a crash leaves behind the cursor is still deleted",
          "[spool][tracing][damage]") {
  spool_scratch dir("cursor-crash");
  auto layout = write_spool(dir.path, 550, 100, 3);
  REQUIRE(layout.segments.size() == 3);
  // As after "cursor saved, segment not yet deleted": the first segment
  // was fully delivered.
  std::ofstream(dir.path / "cursor", std::ios::trunc)
      << "weft-spool-cursor-v1 " << layout.segment_numbers[1] << " 0\n";
  auto s = spool::open(dir.path.string(), {}, nullptr);
  REQUIRE(s);
  CHECK(s->take_warnings().empty());
  CHECK(s->segments() == 2);
  CHECK_FALSE(fs::exists(layout.segments[0]));
  std::set<std::size_t> first;
  for (std::size_t i = 0; i < layout.records.size(); ++i)
    if (layout.records[i].segment == layout.segments[0]) first.insert(i);
  CHECK(drain_all(*s).names == names_of(layout.records, first));
}

TEST_CASE("spool damage: quarantine gives way to live spans within the budget",
          "[spool][tracing][damage]") {
  spool_scratch dir("budget");
  auto layout = write_spool(dir.path, 30, 10, 3);
  REQUIRE(layout.segments.size() == 3);
  flip_bits(layout.segments[0], layout.records[0].offset + 12, 0x40);
  const auto record_bytes = layout.records[0].size;
  spool_options o;
  std::uint64_t all = 0;
  for (auto& f : layout.segments) all += fs::file_size(f);
  o.max_bytes = all + record_bytes;  // room for one more record, no more
  o.segment_bytes = record_bytes * 10;
  auto s = spool::open(dir.path.string(), o, nullptr);
  REQUIRE(s);
  CHECK(drain_all(*s).names.size() == 29);
  const auto quarantined = s->bytes_quarantined();
  REQUIRE(quarantined == fs::file_size(layout.segments[0].string() + ".damaged"));
  CHECK(s->bytes() == quarantined);
  // Fill the spool: once live records need the quarantine's room, it goes.
  int appended = 0;
  while (s->append(make_spans("live", 10)) == spool_result::ok) ++appended;
  CHECK(appended > static_cast<int>(all / record_bytes) - 10);
  CHECK(s->bytes() <= o.max_bytes);
  CHECK(s->bytes_quarantined() == 0);
  CHECK_FALSE(fs::exists(layout.segments[0].string() + ".damaged"));
  CHECK(any_line_contains(s->take_warnings(), "deleted quarantined"));
}
