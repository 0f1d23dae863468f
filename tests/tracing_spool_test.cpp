// The MessagePack span encoding and the disk spool built on it.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "tracing/span_msgpack.hpp"
#include "tracing/spool.hpp"

using namespace weft::tracing;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / ("weft-spool-test-" + span_id::random().to_hex());
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

// Equal down to the bits of doubles, so NaN and -0.0 count as round-tripped
// only when they come back exactly.
bool same_value(const attribute_value& a, const attribute_value& b) {
  if (a.index() != b.index()) return false;
  if (auto* d = std::get_if<double>(&a))
    return std::bit_cast<std::uint64_t>(*d) == std::bit_cast<std::uint64_t>(std::get<double>(b));
  return a == b;
}

void require_same(const span_record& a, const span_record& b) {
  REQUIRE(a.trace == b.trace);
  REQUIRE(a.id == b.id);
  REQUIRE(a.parent == b.parent);
  REQUIRE(a.name == b.name);
  REQUIRE(a.kind == b.kind);
  REQUIRE(a.start_unix_ns == b.start_unix_ns);
  REQUIRE(a.end_unix_ns == b.end_unix_ns);
  REQUIRE(a.status == b.status);
  REQUIRE(a.status_message == b.status_message);
  REQUIRE(a.attributes.size() == b.attributes.size());
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    INFO("attribute " << a.attributes[i].key);
    REQUIRE(a.attributes[i].key == b.attributes[i].key);
    REQUIRE(same_value(a.attributes[i].value, b.attributes[i].value));
  }
}

std::vector<span_record> make_batch(const std::string& tag, int n = 3) {
  std::vector<span_record> batch;
  const auto trace = trace_id::random();
  for (int i = 0; i < n; ++i) {
    span_record s;
    s.trace = trace;
    s.id = span_id::random();
    s.name = tag;
    s.start_unix_ns = now_unix_ns();
    s.end_unix_ns = s.start_unix_ns + 10;
    s.set("weft.run.id", std::string("run-") + tag);
    s.set("i", std::int64_t{i});
    batch.push_back(std::move(s));
  }
  return batch;
}

// Names of the batches that replay yields, acknowledging each.
std::vector<std::string> drain(spool& s) {
  std::vector<std::string> names;
  while (auto e = s.peek()) {
    REQUIRE_FALSE(e->spans.empty());
    names.push_back(e->spans.front().name);
    s.ack(*e);
  }
  return names;
}

std::vector<fs::path> segment_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".wspool") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

std::unique_ptr<spool> open_spool(const fs::path& dir, spool_options o = {}) {
  std::string error;
  auto s = spool::open(dir.string(), o, &error);
  INFO(error);
  REQUIRE(s);
  return s;
}

bool any_contains(const std::vector<std::string>& lines, const std::string& needle) {
  for (auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

// ---------------------------------------------------------------- msgpack

TEST_CASE("span_msgpack: every field and attribute type round-trips exactly", "[spool][tracing]") {
  span_record root;
  root.trace = *trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  root.id = span_id{std::numeric_limits<std::uint64_t>::max()};
  // parent left invalid: a root span
  root.name =
      "flow \xE2\x9C\x93 \xF0\x9F\x9A\x80 \xE6\x97\xA5\xE6\x9C\xAC";  // check mark, rocket, CJK
  root.kind = span_kind::server;
  root.start_unix_ns = std::numeric_limits<std::uint64_t>::max() - 1;
  root.end_unix_ns = std::numeric_limits<std::uint64_t>::max();
  root.status = status_code::error;
  root.status_message = std::string("nul\0inside", 10);
  root.set("s", std::string("text"));
  root.set("empty", std::string());
  root.set("bad utf8", std::string("\xFF\xC0\x80 raw bytes"));
  root.set("i0", std::int64_t{0});
  root.set("imax", std::numeric_limits<std::int64_t>::max());
  root.set("imin", std::numeric_limits<std::int64_t>::min());
  root.set("ineg", std::int64_t{-1});
  root.set("big", std::int64_t{9007199254740993});  // not representable as double
  root.set("d2", 2.0);                              // integral double stays a double
  root.set("dneg0", -0.0);
  root.set("dfrac", 0.1);
  root.set("dnan", std::numeric_limits<double>::quiet_NaN());
  root.set("dinf", -std::numeric_limits<double>::infinity());
  root.set("dmin", std::numeric_limits<double>::denorm_min());
  root.set("t", true);
  root.set("f", false);
  root.set("", std::string("empty key"));

  span_record child;
  child.trace = root.trace;
  child.id = span_id{1};
  child.parent = root.id;
  child.kind = static_cast<span_kind>(5);  // an OTLP kind weft does not name
  child.status = status_code::ok;

  const std::vector<span_record> batch{root, child, span_record{}};
  const std::string bytes = encode_span_batch(batch);
  std::vector<span_record> back;
  std::string error;
  REQUIRE(decode_span_batch(bytes, back, &error));
  REQUIRE(back.size() == batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) require_same(batch[i], back[i]);
  REQUIRE_FALSE(back[0].parent.valid());
  REQUIRE(
      std::holds_alternative<double>(back[0].find("d2") ? *back[0].find("d2") : attribute_value{}));
  REQUIRE(std::signbit(std::get<double>(*back[0].find("dneg0"))));

  SECTION("an empty batch too") {
    REQUIRE(decode_span_batch(encode_span_batch({}), back, &error));
    REQUIRE(back.empty());
  }
}

TEST_CASE("span_msgpack: bad input is an error, never a crash", "[spool][tracing]") {
  const std::string good = encode_span_batch(make_batch("x", 2));
  std::vector<span_record> out;
  std::string error;

  SECTION("truncated") {
    for (std::size_t n = 0; n < good.size(); ++n) {
      error.clear();
      REQUIRE_FALSE(decode_span_batch(std::string_view(good).substr(0, n), out, &error));
      REQUIRE_FALSE(error.empty());
      REQUIRE(out.empty());
    }
  }
  SECTION("trailing bytes") {
    REQUIRE_FALSE(decode_span_batch(good + "x", out, &error));
    REQUIRE_THAT(error, Catch::Contains("trailing"));
  }
  SECTION("another version") {
    std::string other = good;
    other[1] = 9;  // [fixarray 2][positive fixint version]...
    REQUIRE_FALSE(decode_span_batch(other, out, &error));
    REQUIRE_THAT(error, Catch::Contains("version"));
  }
  SECTION("a huge claimed length does not allocate it") {
    const std::string huge("\xdd\xff\xff\xff\xff", 5);  // array32 of 4 billion elements
    REQUIRE_FALSE(decode_span_batch(huge, out, &error));
  }
  SECTION("random mutations") {
    std::mt19937 rng(42);
    for (int round = 0; round < 2000; ++round) {
      std::string m = good;
      const int flips = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < flips; ++k) m[rng() % m.size()] = static_cast<char>(rng());
      decode_span_batch(m, out, &error);  // must not crash, throw or leak
    }
  }
}

// ---------------------------------------------------------------- spool

TEST_CASE("spool: batches replay in order across segment rotation", "[spool][tracing]") {
  temp_dir dir;
  spool_options o;
  o.segment_bytes = 600;                         // a few records per segment
  auto s = open_spool(dir.path / "a" / "b", o);  // parents are created
  REQUIRE(fs::is_directory(dir.path / "a" / "b"));
  REQUIRE(s->bytes() == 0);
  REQUIRE(s->segments() == 0);
  REQUIRE_FALSE(s->peek());

  std::vector<std::string> expected;
  for (int i = 0; i < 20; ++i) {
    expected.push_back("b" + std::to_string(i));
    REQUIRE(s->append(make_batch(expected.back()), i % 5 == 0) == spool_result::ok);
  }
  REQUIRE(s->segments() > 3);
  REQUIRE(segment_files(dir.path / "a" / "b").size() == s->segments());
  REQUIRE(s->records_pending() == 20);
  REQUIRE(s->sync() == spool_result::ok);

  // Spans come back whole, not just the names.
  auto first = s->peek();
  REQUIRE(first);
  REQUIRE(first->spans.size() == 3);
  REQUIRE(std::get<std::int64_t>(*first->spans[2].find("i")) == 2);
  REQUIRE(s->peek()->position.offset == first->position.offset);  // peek does not advance

  REQUIRE(drain(*s) == expected);
  REQUIRE(s->records_pending() == 0);
  REQUIRE(s->bytes() == 0);
  REQUIRE(s->segments() == 0);
  REQUIRE(segment_files(dir.path / "a" / "b").empty());
  REQUIRE(s->take_warnings().empty());

  // Appending after a full drain starts a fresh segment.
  REQUIRE(s->append(make_batch("again"), false) == spool_result::ok);
  REQUIRE(drain(*s) == std::vector<std::string>{"again"});
}

TEST_CASE("spool: a restart replays only unacknowledged records", "[spool][tracing]") {
  temp_dir dir;
  spool_options o;
  o.segment_bytes = 700;
  {
    auto s = open_spool(dir.path, o);
    for (int i = 0; i < 10; ++i)
      REQUIRE(s->append(make_batch("b" + std::to_string(i))) == spool_result::ok);
    for (int i = 0; i < 4; ++i) {
      auto e = s->peek();
      REQUIRE(e);
      REQUIRE(e->spans.front().name == "b" + std::to_string(i));
      s->ack(*e);
    }
    auto e = s->peek();  // b4: peeked (say, sent) but not acknowledged
    REQUIRE(e->spans.front().name == "b4");
  }
  {
    auto s = open_spool(dir.path, o);
    REQUIRE(s->records_pending() == 6);
    for (int i = 10; i < 12; ++i)
      REQUIRE(s->append(make_batch("b" + std::to_string(i))) == spool_result::ok);
    REQUIRE(drain(*s) ==
            std::vector<std::string>{"b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11"});
    REQUIRE(s->take_warnings().empty());
  }
  {
    auto s = open_spool(dir.path, o);
    REQUIRE_FALSE(s->peek());
    REQUIRE(s->bytes() == 0);
  }
}

TEST_CASE("spool: acknowledged segments are deleted and bytes shrink", "[spool][tracing]") {
  temp_dir dir;
  spool_options o;
  o.segment_bytes = 1;  // one record per segment
  auto s = open_spool(dir.path, o);
  for (int i = 0; i < 3; ++i)
    REQUIRE(s->append(make_batch("b" + std::to_string(i))) == spool_result::ok);
  REQUIRE(s->segments() == 3);
  const auto files = segment_files(dir.path);
  REQUIRE(files.size() == 3);
  const auto first_size = fs::file_size(files[0]);
  const auto total = s->bytes();
  REQUIRE(total == first_size + fs::file_size(files[1]) + fs::file_size(files[2]));

  auto e = s->peek();
  s->ack(*e);
  REQUIRE(s->segments() == 2);
  REQUIRE_FALSE(fs::exists(files[0]));
  REQUIRE(s->bytes() == total - first_size);

  s->ack(*e);  // a repeated ack changes nothing
  REQUIRE(s->segments() == 2);
  REQUIRE(s->peek()->spans.front().name == "b1");
}

TEST_CASE("spool: max_bytes makes append return full and write nothing", "[spool][tracing]") {
  temp_dir dir;
  const auto record = encode_span_batch(make_batch("b")).size() + 8;
  spool_options o;
  o.max_bytes = record * 5 + record / 2;
  o.segment_bytes = record * 2;
  auto s = open_spool(dir.path, o);
  int ok = 0;
  for (int i = 0; i < 10; ++i) {
    const auto bytes_before = s->bytes();
    auto r = s->append(make_batch("b"));
    if (r == spool_result::ok) {
      ++ok;
    } else {
      REQUIRE(r == spool_result::full);
      REQUIRE(s->bytes() == bytes_before);
    }
    REQUIRE(s->bytes() <= o.max_bytes);
  }
  REQUIRE(ok == 5);
  std::uintmax_t on_disk = 0;
  for (auto& f : segment_files(dir.path)) on_disk += fs::file_size(f);
  REQUIRE(on_disk == s->bytes());

  // Delivering makes room again.
  s->ack(*s->peek());
  s->ack(*s->peek());
  REQUIRE(s->append(make_batch("b")) == spool_result::ok);

  SECTION("a single batch bigger than the bound is full too") {
    REQUIRE(s->append(make_batch("big", 1000)) == spool_result::full);
  }
}

TEST_CASE("spool: a truncated tail replays what precedes it and is reported", "[spool][tracing]") {
  temp_dir dir;
  {
    auto s = open_spool(dir.path);
    for (int i = 0; i < 3; ++i)
      REQUIRE(s->append(make_batch("b" + std::to_string(i))) == spool_result::ok);
  }
  const auto file = segment_files(dir.path).at(0);
  const auto size = fs::file_size(file);
  fs::resize_file(file, size - 5);  // cut the last record short, as a crash mid-write would

  auto s = open_spool(dir.path);
  REQUIRE(s->records_pending() == 2);
  REQUIRE(s->append(make_batch("after")) == spool_result::ok);  // goes to a new segment
  REQUIRE(drain(*s) == std::vector<std::string>{"b0", "b1", "after"});
  auto warnings = s->take_warnings();
  REQUIRE(warnings.size() == 1);
  REQUIRE_THAT(warnings[0], Catch::Contains(file.filename().string()));
  REQUIRE_THAT(warnings[0], Catch::Contains("damaged record at offset"));
  // Kept for inspection, never replayed again.
  REQUIRE_FALSE(fs::exists(file));
  REQUIRE(fs::exists(file.string() + ".damaged"));
  REQUIRE(s->records_damaged() == 1);
  REQUIRE(s->bytes_quarantined() == size - 5);

  SECTION("a tail too short for a header") {
    temp_dir d2;
    {
      auto s2 = open_spool(d2.path);
      REQUIRE(s2->append(make_batch("only")) == spool_result::ok);
    }
    const auto f2 = segment_files(d2.path).at(0);
    std::ofstream(f2, std::ios::app | std::ios::binary).write("\x01\x02\x03", 3);
    auto s2 = open_spool(d2.path);
    REQUIRE(drain(*s2) == std::vector<std::string>{"only"});
    REQUIRE(any_contains(s2->take_warnings(), "3 bytes skipped"));
  }
}

TEST_CASE("spool: a flipped byte is caught by the crc", "[spool][tracing]") {
  temp_dir dir;
  spool_options o;
  std::uint64_t second_record_at = 0;
  {
    auto s = open_spool(dir.path, o);
    REQUIRE(s->append(make_batch("b0")) == spool_result::ok);
    second_record_at = s->bytes();
    REQUIRE(s->append(make_batch("b1")) == spool_result::ok);
    REQUIRE(s->append(make_batch("b2")) == spool_result::ok);
  }
  {
    auto s = open_spool(dir.path, o);  // a second segment after the damaged one
    REQUIRE(s->append(make_batch("next")) == spool_result::ok);
  }
  const auto file = segment_files(dir.path).at(0);
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(second_record_at + 20));
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x10);
    f.seekp(static_cast<std::streamoff>(second_record_at + 20));
    f.write(&c, 1);
  }
  auto s = open_spool(dir.path, o);
  // Only the record that was hit is lost: its frame still holds, so replay
  // goes on with the next one.
  REQUIRE(drain(*s) == std::vector<std::string>{"b0", "b2", "next"});
  const auto warnings = s->take_warnings();
  REQUIRE(warnings.size() == 1);
  REQUIRE_THAT(warnings[0], Catch::Contains("crc mismatch"));
  REQUIRE_THAT(warnings[0], Catch::Contains("at offset " + std::to_string(second_record_at)));
  REQUIRE(s->records_damaged() == 1);
  REQUIRE(s->bytes() == s->bytes_quarantined());
  REQUIRE(fs::exists(file.string() + ".damaged"));
}

TEST_CASE("spool: garbage files and stray files", "[spool][tracing]") {
  temp_dir dir;
  std::ofstream(dir.path / "segment-00000000000000000001.wspool", std::ios::binary)
      << "this is not a spool segment at all, just text";
  std::ofstream(dir.path / "notes.txt") << "ignored";
  std::ofstream(dir.path / "segment-1.wspool") << "wrong name, ignored";
  auto s = open_spool(dir.path);
  REQUIRE(s->segments() == 1);
  REQUIRE(s->append(make_batch("good")) == spool_result::ok);
  REQUIRE(drain(*s) == std::vector<std::string>{"good"});
  REQUIRE(any_contains(s->take_warnings(), "segment-00000000000000000001.wspool"));
  REQUIRE(fs::exists(dir.path / "notes.txt"));
  REQUIRE(fs::exists(dir.path / "segment-1.wspool"));

  SECTION("a sound frame around a payload that is not a batch") {
    temp_dir d2;
    const std::string payload = "\x93\x01\x02\x03";  // msgpack [1, 2, 3]
    std::string frame(8, '\0');
    frame[0] = static_cast<char>(payload.size());
    const auto crc = static_cast<std::uint32_t>(crc32(
        0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
    for (int i = 0; i < 4; ++i) frame[4 + i] = static_cast<char>(crc >> (8 * i));
    std::ofstream(d2.path / "segment-00000000000000000007.wspool", std::ios::binary)
        << frame << payload;
    auto s2 = open_spool(d2.path);
    REQUIRE(s2->records_pending() == 1);
    REQUIRE_FALSE(s2->peek());
    REQUIRE(any_contains(s2->take_warnings(), "undecodable record"));
    REQUIRE(s2->segments() == 0);
  }
}

TEST_CASE("spool: open errors and a bad cursor", "[spool][tracing]") {
  temp_dir dir;
  SECTION("the directory is a file") {
    std::ofstream(dir.path / "file") << "x";
    std::string error;
    REQUIRE_FALSE(spool::open((dir.path / "file").string(), {}, &error));
    REQUIRE_THAT(error, Catch::Contains("file"));
    REQUIRE_FALSE(spool::open((dir.path / "file" / "sub").string(), {}, &error));
  }
  SECTION("an unreadable cursor replays everything") {
    {
      auto s = open_spool(dir.path);
      REQUIRE(s->append(make_batch("b0")) == spool_result::ok);
      REQUIRE(s->append(make_batch("b1")) == spool_result::ok);
      s->ack(*s->peek());
    }
    std::ofstream(dir.path / "cursor", std::ios::trunc) << "rubbish";
    auto s = open_spool(dir.path);
    REQUIRE(drain(*s) == std::vector<std::string>{"b0", "b1"});
    REQUIRE(any_contains(s->take_warnings(), "cursor"));
  }
}

TEST_CASE("spool: spool_dir keeps sink names inside the root", "[spool][tracing]") {
  REQUIRE(spool_dir("/var/spool/weft", "otlp") == "/var/spool/weft/otlp");
  REQUIRE(spool_dir("/var/spool/weft/", "langfuse") == "/var/spool/weft/langfuse");
  REQUIRE(spool_dir("/r", "../x") == "/r/_._x");
  REQUIRE(spool_dir("/r", "") == "/r/_");
}
