// The OTLP/JSON reader: round trips with the encoder, other producers'
// spellings, and clear errors for bad lines.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "tracing/otlp_json.hpp"
#include "tracing/otlp_json_reader.hpp"

using namespace weft::tracing;

namespace {

span_record make_span(int i) {
  span_record s;
  s.trace = trace_id::random();
  s.id = span_id::random();
  s.parent = i % 3 == 0 ? span_id{} : span_id::random();
  s.name = "span \"" + std::to_string(i) + "\"\n\xc3\xa9";
  s.kind = static_cast<span_kind>(i % 4);
  s.start_unix_ns = 1700000000000000000ULL + static_cast<std::uint64_t>(i);
  s.end_unix_ns = s.start_unix_ns + 999;
  s.status = static_cast<status_code>(i % 3);
  if (s.status == status_code::error) s.status_message = "boom\t" + std::to_string(i);
  s.set("s", std::string("v\\") + std::to_string(i));
  s.set("i", std::int64_t{-1} * i * 1000000007LL);
  s.set("d", i / 7.0);
  s.set("b", i % 2 == 0);
  s.set("max", std::numeric_limits<std::int64_t>::max());
  return s;
}

bool same_value(const attribute_value& a, const attribute_value& b) {
  if (a.index() != b.index()) return false;
  if (auto x = std::get_if<double>(&a)) {
    const double y = std::get<double>(b);
    return (std::isnan(*x) && std::isnan(y)) || *x == y;
  }
  return a == b;
}

void check_same(const span_record& a, const span_record& b) {
  CHECK(a.trace == b.trace);
  CHECK(a.id == b.id);
  CHECK(a.parent == b.parent);
  CHECK(a.name == b.name);
  CHECK(a.kind == b.kind);
  CHECK(a.start_unix_ns == b.start_unix_ns);
  CHECK(a.end_unix_ns == b.end_unix_ns);
  CHECK(a.status == b.status);
  CHECK(a.status_message == b.status_message);
  REQUIRE(a.attributes.size() == b.attributes.size());
  for (std::size_t i = 0; i < a.attributes.size(); ++i) {
    CHECK(a.attributes[i].key == b.attributes[i].key);
    CHECK(same_value(a.attributes[i].value, b.attributes[i].value));
  }
}

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    path = std::filesystem::temp_directory_path() /
           ("weft-otlp-reader-test-" + span_id::random().to_hex());
    std::filesystem::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string read_error(std::string_view line) {
  std::string error;
  auto spans = read_otlp_json_line(line, &error);
  CHECK(spans.empty());
  CHECK_FALSE(error.empty());
  return error;
}

}  // namespace

TEST_CASE("otlp_json_reader: round trip with the encoder", "[tracing]") {
  std::vector<span_record> spans;
  for (int i = 0; i < 50; ++i) spans.push_back(make_span(i));
  spans[5].set("nan", std::numeric_limits<double>::quiet_NaN());
  spans[5].set("inf", -std::numeric_limits<double>::infinity());
  spans[5].set("", std::string());
  spans[6].attributes.clear();
  spans[7].start_unix_ns = 0;
  spans[7].end_unix_ns = std::numeric_limits<std::uint64_t>::max();

  std::string error;
  resource_info res;
  const auto back = read_otlp_json_line(encode_export_request(spans, {"svc", "9.9"}), &error, &res);
  CHECK(error.empty());
  CHECK(res.service_name == "svc");
  CHECK(res.service_version == "9.9");
  REQUIRE(back.size() == spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) {
    INFO("span " << i);
    check_same(back[i], spans[i]);
  }
}

TEST_CASE("otlp_json_reader: invalid UTF-8 reads back as U+FFFD", "[tracing]") {
  span_record s = make_span(1);
  s.name =
      "a\xff"
      "b";
  std::string error;
  const auto back = read_otlp_json_line(encode_export_request({s}, {}), &error);
  REQUIRE(back.size() == 1);
  CHECK(back[0].name ==
        "a\xef\xbf\xbd"
        "b");
}

TEST_CASE("otlp_json_reader: other producers' spellings", "[tracing]") {
  // Uppercase hex, numbers instead of strings, enum names, base64 ids,
  // non-scalar values, absent optional fields, several resources.
  const std::string line = R"({"resourceSpans":[
    {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a"}}]},
     "scopeSpans":[{"scope":{"name":"x"},"spans":[
       {"traceId":"4BF92F3577B34DA6A3CE929D0E0E4736","spanId":"00F067AA0BA902B7",
        "parentSpanId":"","name":"n1","kind":"SPAN_KIND_SERVER",
        "startTimeUnixNano":1700000000000000000,"endTimeUnixNano":"1700000000000000001",
        "attributes":[{"key":"i","value":{"intValue":42}},
                      {"key":"d","value":{"doubleValue":"Infinity"}},
                      {"key":"d2","value":{"doubleValue":3}},
                      {"key":"arr","value":{"arrayValue":{"values":[{"stringValue":"x"}]}}},
                      {"key":"kv","value":{"kvlistValue":{"values":[]}}},
                      {"key":"none"}],
        "status":{"code":"STATUS_CODE_ERROR","message":"m"}}]}]},
    {"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"b"}}]},
     "scopeSpans":[{"spans":[
       {"traceId":"S/kvNXezTaajzpKdDg5HNg==","spanId":"APBnqgupArc=","name":"n2"}]}]}
  ]})";
  std::vector<std::pair<span_record, std::string>> got;
  std::string error;
  REQUIRE(read_otlp_json_line(
      line,
      [&](span_record&& s, const resource_info& r) {
        got.emplace_back(std::move(s), r.service_name);
      },
      &error));
  CHECK(error.empty());
  REQUIRE(got.size() == 2);
  const auto& a = got[0].first;
  CHECK(got[0].second == "a");
  CHECK(a.trace.to_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(a.id.to_hex() == "00f067aa0ba902b7");
  CHECK_FALSE(a.parent.valid());
  CHECK(a.kind == span_kind::server);
  CHECK(a.start_unix_ns == 1700000000000000000ULL);
  CHECK(a.end_unix_ns == 1700000000000000001ULL);
  CHECK(std::get<std::int64_t>(*a.find("i")) == 42);
  CHECK(std::isinf(std::get<double>(*a.find("d"))));
  CHECK(std::get<double>(*a.find("d2")) == 3.0);
  CHECK(std::get<std::vector<std::string>>(*a.find("arr")) == std::vector<std::string>{"x"});
  CHECK(std::get<std::string>(*a.find("kv")) ==
        R"({"kvlistValue":{"values":[]}})");  // kept as JSON text
  CHECK(std::get<std::string>(*a.find("none")).empty());
  CHECK(a.status == status_code::error);
  CHECK(a.status_message == "m");
  // The second resource, with base64 ids (the same ids as the first span).
  const auto& b = got[1].first;
  CHECK(got[1].second == "b");
  CHECK(b.trace == a.trace);
  CHECK(b.id == a.id);
  CHECK(b.kind == span_kind::unspecified);
  CHECK(b.status == status_code::unset);
  CHECK(b.attributes.empty());
}

TEST_CASE("otlp_json_reader: empty requests are fine", "[tracing]") {
  std::string error;
  CHECK(read_otlp_json_line("{}", &error).empty());
  CHECK(error.empty());
  CHECK(read_otlp_json_line(R"({"resourceSpans":[]})", &error).empty());
  CHECK(error.empty());
}

TEST_CASE("otlp_json_reader: errors name the field", "[tracing]") {
  CHECK_THAT(read_error("{not json"), Catch::StartsWith("invalid JSON"));
  CHECK_THAT(read_error("[]"), Catch::Contains("expected an object"));
  CHECK_THAT(read_error(R"({"resourceSpans":{}})"),
             Catch::Contains("request.resourceSpans: expected an array"));
  const std::string prefix = R"({"resourceSpans":[{"scopeSpans":[{"spans":[)";
  const std::string suffix = "]}]}]}";
  const std::string ok_ids =
      R"("traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7")";
  CHECK(read_error(prefix + R"({"spanId":"00f067aa0ba902b7"})" + suffix) ==
        "resourceSpans[0].scopeSpans[0].spans[0].traceId: missing");
  CHECK_THAT(read_error(prefix + R"({"traceId":"abc","spanId":"00f067aa0ba902b7"})" + suffix),
             Catch::Contains("spans[0].traceId: expected 32 hex"));
  CHECK_THAT(
      read_error(prefix +
                 R"({"traceId":"00000000000000000000000000000000","spanId":"00f067aa0ba902b7"})" +
                 suffix),
      Catch::Contains("traceId"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids +
                        "}, {\"traceId\":\"4bf92f3577b34da6a3ce929d0e0e4736\"}" + suffix),
             Catch::Contains("spans[1].spanId: missing"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids + R"(,"kind":9})" + suffix),
             Catch::Contains("kind: value 9 is out of range"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids + R"(,"startTimeUnixNano":"12x"})" + suffix),
             Catch::Contains("startTimeUnixNano: expected an integer"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids + R"(,"startTimeUnixNano":-5})" + suffix),
             Catch::Contains("startTimeUnixNano"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids +
                        R"(,"attributes":[{"key":"k","value":{"intValue":"1.5"}}]})" + suffix),
             Catch::Contains("attributes[0].value.intValue"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids +
                        R"(,"attributes":[{"key":"k","value":{"boolValue":"yes"}}]})" + suffix),
             Catch::Contains("boolValue"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids + R"(,"status":{"code":"NOPE"}})" + suffix),
             Catch::Contains("status.code: unknown value"));
  CHECK_THAT(read_error(prefix + "{" + ok_ids + R"(,"name":7})" + suffix),
             Catch::Contains("name: expected a string"));
  // Invalid UTF-8 in the input is a parse error, not a crash.
  CHECK_THAT(read_error("{\"x\":\"\xff\"}"), Catch::StartsWith("invalid JSON"));
}

TEST_CASE("otlp_json_reader: a bad line delivers no spans at all", "[tracing]") {
  const std::string line = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7"},
    {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"zz"}]}]}]})";
  int calls = 0;
  std::string error;
  CHECK_FALSE(read_otlp_json_line(
      line, [&](span_record&&, const resource_info&) { ++calls; }, &error));
  CHECK(calls == 0);
  CHECK_THAT(error, Catch::Contains("spans[1].spanId"));
}

TEST_CASE("otlp_json_reader: files with bad lines", "[tracing]") {
  temp_dir dir;
  const auto path = (dir.path / "traces.jsonl").string();
  {
    std::ofstream f(path, std::ios::binary);
    f << encode_export_request({make_span(1), make_span(2)}, {}) << "\n";  // line 1
    f << "\n";                                                             // line 2, blank
    f << "{broken\n";                                                      // line 3
    f << encode_export_request({make_span(3)}, {}) << "\r\n";              // line 4, CRLF
    f << R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"spanId":"00f067aa0ba902b7"}]}]}]})"
      << "\n";                                       // line 5
    f << encode_export_request({make_span(4)}, {});  // line 6, no newline
  }
  std::vector<span_record> spans;
  const auto summary = read_otlp_json_file(path, spans);
  CHECK(summary.open_error.empty());
  CHECK(summary.lines == 5);
  CHECK(summary.spans == 4);
  CHECK(spans.size() == 4);
  CHECK(summary.bad_lines == 2);
  CHECK_FALSE(summary.ok());
  REQUIRE(summary.errors.size() == 2);
  CHECK(summary.errors[0].line == 3);
  CHECK_THAT(summary.errors[0].message, Catch::StartsWith(path + ":3: invalid JSON"));
  CHECK(summary.errors[1].line == 5);
  CHECK_THAT(summary.errors[1].message,
             Catch::Contains(":5: resourceSpans[0].scopeSpans[0].spans[0].traceId: missing"));
  CHECK(spans[2].name == make_span(3).name);
}

TEST_CASE("otlp_json_reader: error list is capped, counts are not", "[tracing]") {
  temp_dir dir;
  const auto path = (dir.path / "garbage.jsonl").string();
  {
    std::ofstream f(path);
    for (int i = 0; i < 250; ++i) f << "garbage " << i << "\n";
  }
  int calls = 0;
  const auto summary =
      read_otlp_json_file(path, [&](span_record&&, const resource_info&) { ++calls; });
  CHECK(calls == 0);
  CHECK(summary.lines == 250);
  CHECK(summary.bad_lines == 250);
  CHECK(summary.errors.size() == otlp_file_summary::max_reported_errors);
  CHECK(summary.errors.back().line == otlp_file_summary::max_reported_errors);
}

TEST_CASE("otlp_json_reader: a missing file", "[tracing]") {
  std::vector<span_record> spans;
  const auto summary = read_otlp_json_file("/nonexistent/weft/traces.jsonl", spans);
  CHECK_FALSE(summary.ok());
  CHECK_THAT(summary.open_error,
             Catch::Contains("/nonexistent/weft/traces.jsonl") && Catch::Contains("No such file"));
  CHECK(spans.empty());
}
