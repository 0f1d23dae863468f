// The JSON-lines file sink.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "tracing/file_sink.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft::tracing;

namespace {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() /
           ("weft-file-sink-test-" + span_id::random().to_hex());
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<span_record> make_batch(int n, const std::string& tag) {
  std::vector<span_record> batch;
  const auto trace = trace_id::random();
  for (int i = 0; i < n; ++i) {
    span_record s;
    s.trace = trace;
    s.id = span_id::random();
    s.name = tag + "/" + std::to_string(i);
    s.start_unix_ns = now_unix_ns();
    s.end_unix_ns = s.start_unix_ns + 10;
    s.set("line\nbreak", std::string("no\nraw\nnewlines"));
    batch.push_back(std::move(s));
  }
  return batch;
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("file_sink: N batches make N lines of valid JSON", "[tracing]") {
  temp_dir dir;
  const auto path = (dir.path / "traces.jsonl").string();
  std::string error;
  auto sink = file_sink::open(path, {"weft", "0.1.0"}, &error);
  REQUIRE(sink);
  CHECK(error.empty());
  CHECK(sink->name() == "file");
  CHECK(sink->path() == path);

  constexpr int batches = 7;
  for (int b = 0; b < batches; ++b)
    CHECK(sink->write(make_batch(b + 1, "b" + std::to_string(b))).empty());
  CHECK(sink->write({}).empty());  // empty batch: no empty line
  CHECK(sink->flush().empty());

  const auto lines = read_lines(path);
  REQUIRE(lines.size() == batches);
  for (int b = 0; b < batches; ++b) {
    const auto doc = nlohmann::json::parse(lines[b]);
    const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
    CHECK(spans.size() == static_cast<std::size_t>(b + 1));
    CHECK(spans[0]["name"] == "b" + std::to_string(b) + "/0");
  }
  // The file ends with a newline, as a JSON-lines file should.
  std::ifstream f(path, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), {});
  CHECK(all.back() == '\n');

  // And it reads back through the reader, resource included.
  std::vector<std::string> services;
  const auto summary = read_otlp_json_file(path, [&](span_record&&, const resource_info& r) {
    services.push_back(r.service_name + "@" + r.service_version);
  });
  CHECK(summary.ok());
  CHECK(summary.spans == batches * (batches + 1) / 2);
  CHECK(services.front() == "weft@0.1.0");
}

TEST_CASE("file_sink: appends to an existing file", "[tracing]") {
  temp_dir dir;
  const auto path = (dir.path / "traces.jsonl").string();
  {
    auto sink = file_sink::open(path, {}, nullptr);
    REQUIRE(sink);
    CHECK(sink->write(make_batch(2, "first")).empty());
  }
  {
    auto sink = file_sink::open(path, {}, nullptr);
    REQUIRE(sink);
    CHECK(sink->write(make_batch(3, "second")).empty());
    CHECK(sink->flush().empty());
  }
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 2);
  CHECK(nlohmann::json::parse(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"].size() == 2);
  CHECK(nlohmann::json::parse(lines[1])["resourceSpans"][0]["scopeSpans"][0]["spans"].size() == 3);
}

TEST_CASE("file_sink: creates missing parent directories", "[tracing]") {
  temp_dir dir;
  const auto path = (dir.path / "a" / "b" / "c" / "traces.jsonl").string();
  std::string error;
  auto sink = file_sink::open(path, {}, &error);
  REQUIRE(sink);
  CHECK(sink->write(make_batch(1, "x")).empty());
  CHECK(std::filesystem::exists(path));
}

TEST_CASE("file_sink: clear errors when the file cannot be opened", "[tracing]") {
  temp_dir dir;
  std::string error;

  // The path is a directory.
  auto sink = file_sink::open(dir.path.string(), {}, &error);
  CHECK_FALSE(sink);
  CHECK_THAT(error, Catch::Contains(dir.path.string()) && Catch::Contains("Is a directory"));

  // A parent is a regular file.
  const auto blocker = dir.path / "file";
  std::ofstream(blocker) << "x";
  error.clear();
  CHECK_FALSE(file_sink::open((blocker / "traces.jsonl").string(), {}, &error));
  CHECK_THAT(error, Catch::Contains((blocker / "traces.jsonl").string()));

  error.clear();
  CHECK_FALSE(file_sink::open("", {}, &error));
  CHECK_THAT(error, Catch::Contains("empty"));

  // The throwing constructor says the same.
  CHECK_THROWS_WITH(file_sink(dir.path.string(), {}), Catch::Contains("cannot open trace file"));
}

TEST_CASE("file_sink: flush on something that cannot be synced", "[tracing]") {
  auto sink = file_sink::open("/dev/null", {}, nullptr);
  REQUIRE(sink);
  CHECK(sink->write(make_batch(3, "null")).empty());
  CHECK(sink->flush().empty());
}

TEST_CASE("file_sink: is usable through the sink interface", "[tracing]") {
  temp_dir dir;
  const auto path = (dir.path / "t.jsonl").string();
  std::unique_ptr<sink> s = std::make_unique<file_sink>(path, resource_info{});
  CHECK(s->name() == "file");
  CHECK(s->write(make_batch(1, "iface")).empty());
  CHECK(s->flush().empty());
  CHECK(read_lines(path).size() == 1);
}
