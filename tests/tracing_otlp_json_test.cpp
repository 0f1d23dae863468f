// The OTLP/JSON encoder, checked field by field against the encoding rules.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "tracing/otlp_json.hpp"

using namespace weft::tracing;
using nlohmann::json;

namespace {

span_record sample_span() {
  span_record s;
  s.trace = *trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  s.id = span_id{0x00f067aa0ba902b7ULL};
  s.parent = span_id{0x1122334455667788ULL};
  s.name = "node llm";
  s.kind = span_kind::client;
  s.start_unix_ns = 1700000000123456789ULL;
  s.end_unix_ns = 1700000000987654321ULL;
  s.status = status_code::error;
  s.status_message = "upstream said no";
  s.set("session.id", std::string("s-1"));
  s.set("llm.tokens", std::int64_t{9007199254740993});  // beyond double precision
  s.set("llm.temperature", 0.25);
  s.set("cache.hit", true);
  return s;
}

// The value of the attribute `key` in an OTLP attribute list.
const json& attribute_value_of(const json& attributes, const std::string& key) {
  for (const auto& a : attributes)
    if (a.at("key") == key) return a.at("value");
  FAIL("no attribute " << key);
  throw;  // unreachable
}

// Encodes one string attribute value and returns the raw JSON text of it.
std::string encoded_string(std::string_view s) {
  std::string out;
  append_json_string(out, s);
  return out;
}

}  // namespace

TEST_CASE("otlp_json: request layout and resource", "[tracing]") {
  resource_info res{"weft", "1.2.3"};
  const auto text = encode_export_request({sample_span()}, res);
  CHECK(text.back() == '}');  // no trailing newline
  const auto doc = json::parse(text);
  REQUIRE(doc.is_object());
  REQUIRE(doc.size() == 1);
  REQUIRE(doc["resourceSpans"].is_array());
  REQUIRE(doc["resourceSpans"].size() == 1);
  const auto& rs = doc["resourceSpans"][0];
  const auto& rattrs = rs["resource"]["attributes"];
  REQUIRE(rattrs.is_array());
  CHECK(attribute_value_of(rattrs, "service.name") == json{{"stringValue", "weft"}});
  CHECK(attribute_value_of(rattrs, "service.version") == json{{"stringValue", "1.2.3"}});
  CHECK(attribute_value_of(rattrs, "telemetry.sdk.name") == json{{"stringValue", "weft"}});
  CHECK(attribute_value_of(rattrs, "telemetry.sdk.language") == json{{"stringValue", "cpp"}});
  REQUIRE(rs["scopeSpans"].size() == 1);
  const auto& ss = rs["scopeSpans"][0];
  CHECK(ss["scope"] == json{{"name", "weft"}, {"version", "1.2.3"}});
  CHECK(ss["spans"].size() == 1);
}

TEST_CASE("otlp_json: no service.version when it is empty", "[tracing]") {
  const auto doc = json::parse(encode_export_request({}, resource_info{"svc", ""}));
  const auto& rs = doc["resourceSpans"][0];
  for (const auto& a : rs["resource"]["attributes"]) CHECK(a["key"] != "service.version");
  CHECK(attribute_value_of(rs["resource"]["attributes"], "service.name")["stringValue"] == "svc");
  CHECK(rs["scopeSpans"][0]["scope"] == json{{"name", "weft"}});
  CHECK(rs["scopeSpans"][0]["spans"] == json::array());
}

TEST_CASE("otlp_json: span fields and their JSON types", "[tracing]") {
  const auto doc = json::parse(encode_export_request({sample_span()}, {}));
  const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  // ids: lowercase hex strings, not base64
  CHECK(span["traceId"] == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(span["spanId"] == "00f067aa0ba902b7");
  CHECK(span["parentSpanId"] == "1122334455667788");
  CHECK(span["name"] == "node llm");
  // enums: integers
  REQUIRE(span["kind"].is_number_integer());
  CHECK(span["kind"] == 3);
  // 64-bit integers: decimal strings
  REQUIRE(span["startTimeUnixNano"].is_string());
  CHECK(span["startTimeUnixNano"] == "1700000000123456789");
  REQUIRE(span["endTimeUnixNano"].is_string());
  CHECK(span["endTimeUnixNano"] == "1700000000987654321");
  // attributes: one AnyValue kind each
  const auto& attrs = span["attributes"];
  REQUIRE(attrs.size() == 4);
  CHECK(attrs[0]["key"] == "session.id");  // order is kept
  CHECK(attribute_value_of(attrs, "session.id") == json{{"stringValue", "s-1"}});
  const auto& tokens = attribute_value_of(attrs, "llm.tokens");
  REQUIRE(tokens["intValue"].is_string());
  CHECK(tokens["intValue"] == "9007199254740993");
  const auto& temp = attribute_value_of(attrs, "llm.temperature");
  REQUIRE(temp["doubleValue"].is_number_float());
  CHECK(temp["doubleValue"].get<double>() == 0.25);
  const auto& hit = attribute_value_of(attrs, "cache.hit");
  REQUIRE(hit["boolValue"].is_boolean());
  CHECK(hit["boolValue"] == true);
  // status: integer code, message
  REQUIRE(span["status"]["code"].is_number_integer());
  CHECK(span["status"] == json{{"code", 2}, {"message", "upstream said no"}});
  // nothing else
  CHECK(span.size() == 9);
}

TEST_CASE("otlp_json: root span, statuses and kinds", "[tracing]") {
  span_record s = sample_span();
  s.parent = {};
  s.status = status_code::unset;
  s.status_message.clear();
  s.kind = span_kind::internal;
  s.attributes.clear();
  span_record ok = s;
  ok.status = status_code::ok;
  span_record error_no_message = s;
  error_no_message.status = status_code::error;
  span_record server = s;
  server.kind = span_kind::server;

  const auto doc = json::parse(encode_export_request({s, ok, error_no_message, server}, {}));
  const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
  REQUIRE(spans.size() == 4);
  CHECK_FALSE(spans[0].contains("parentSpanId"));  // root: omitted
  CHECK(spans[0]["status"] == json::object());     // unset: {}
  CHECK(spans[0]["kind"] == 1);
  CHECK(spans[0]["attributes"] == json::array());
  CHECK(spans[1]["status"] == json{{"code", 1}});
  CHECK(spans[2]["status"] == json{{"code", 2}});  // no empty message
  CHECK(spans[3]["kind"] == 2);
}

TEST_CASE("otlp_json: integers and doubles at their limits", "[tracing]") {
  span_record s = sample_span();
  s.attributes.clear();
  s.start_unix_ns = 0;
  s.end_unix_ns = std::numeric_limits<std::uint64_t>::max();
  s.set("min", std::numeric_limits<std::int64_t>::min());
  s.set("max", std::numeric_limits<std::int64_t>::max());
  s.set("third", 1.0 / 3.0);
  s.set("big", 1e300);
  s.set("tiny", -5e-324);
  s.set("nan", std::numeric_limits<double>::quiet_NaN());
  s.set("inf", std::numeric_limits<double>::infinity());
  s.set("-inf", -std::numeric_limits<double>::infinity());
  const auto doc = json::parse(encode_export_request({s}, {}));
  const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  CHECK(span["startTimeUnixNano"] == "0");
  CHECK(span["endTimeUnixNano"] == "18446744073709551615");
  const auto& attrs = span["attributes"];
  CHECK(attribute_value_of(attrs, "min")["intValue"] == "-9223372036854775808");
  CHECK(attribute_value_of(attrs, "max")["intValue"] == "9223372036854775807");
  CHECK(attribute_value_of(attrs, "third")["doubleValue"].get<double>() == 1.0 / 3.0);
  CHECK(attribute_value_of(attrs, "big")["doubleValue"].get<double>() == 1e300);
  CHECK(attribute_value_of(attrs, "tiny")["doubleValue"].get<double>() == -5e-324);
  // JSON has no NaN or infinities: the protobuf JSON mapping's strings.
  CHECK(attribute_value_of(attrs, "nan")["doubleValue"] == "NaN");
  CHECK(attribute_value_of(attrs, "inf")["doubleValue"] == "Infinity");
  CHECK(attribute_value_of(attrs, "-inf")["doubleValue"] == "-Infinity");
}

TEST_CASE("otlp_json: escaping of quotes, backslashes and control characters", "[tracing]") {
  CHECK(encoded_string("plain") == "\"plain\"");
  CHECK(encoded_string("") == "\"\"");
  CHECK(encoded_string("a\"b\\c/d") == "\"a\\\"b\\\\c/d\"");
  CHECK(encoded_string("\n\r\t\b\f") == "\"\\n\\r\\t\\b\\f\"");
  CHECK(encoded_string(std::string_view("\0\x01\x1f\x7f", 4)) == "\"\\u0000\\u0001\\u001f\x7f\"");

  // Every control character, through a real parser.
  std::string all;
  for (int c = 0; c < 0x20; ++c) all += static_cast<char>(c);
  all += "\"\\";
  span_record s = sample_span();
  s.name = all;
  s.attributes = {{all, all}};
  s.status_message = all;
  const auto doc = json::parse(encode_export_request({s}, {all, all}));
  const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  CHECK(span["name"] == all);
  CHECK(span["attributes"][0]["key"] == all);
  CHECK(span["attributes"][0]["value"]["stringValue"] == all);
  CHECK(span["status"]["message"] == all);
  CHECK(attribute_value_of(doc["resourceSpans"][0]["resource"]["attributes"],
                           "service.name")["stringValue"] == all);
}

TEST_CASE("otlp_json: valid UTF-8 is kept as is", "[tracing]") {
  const std::string text =
      "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf";
  CHECK(encoded_string(text) == "\"" + text + "\"");
  CHECK(json::parse(encoded_string(text)) == text);
}

TEST_CASE("otlp_json: invalid UTF-8 becomes U+FFFD", "[tracing]") {
  const std::string r = "\xef\xbf\xbd";
  struct example {
    std::string in, out;
  };
  const example examples[] = {
      {"a\xff"
       "b",
       "a" + r + "b"},                                  // never valid
      {"\x80", r},                                      // lone continuation
      {"\xc0\xaf", r + r},                              // overlong lead, never valid
      {"\xe0\x80\xaf", r + r + r},                      // overlong 3-byte
      {"\xed\xa0\x80", r + r + r},                      // UTF-16 surrogate
      {"\xf4\x90\x80\x80", r + r + r + r},              // above U+10FFFF
      {"\xe2\x82", r},                                  // truncated at the end
      {"\xe2\x82x", r + "x"},                           // truncated in the middle
      {"\xf0\x9f\x98", r},                              // truncated 4-byte
      {"\xc3", r},                                      // lone lead at the end
      {"ok \xc3\xa9 \xc3(", "ok \xc3\xa9 " + r + "("},  // good and bad mixed
  };
  for (const auto& e : examples) {
    INFO("input bytes: " << e.in.size());
    const auto encoded = encoded_string(e.in);
    CHECK(encoded == "\"" + e.out + "\"");
    CHECK_NOTHROW(json::parse(encoded));
  }
  // A whole request with garbage everywhere still parses.
  span_record s = sample_span();
  s.name = "\xff\xfe";
  s.attributes = {{"k\x80", std::string("\xc0")}};
  CHECK_NOTHROW(json::parse(encode_export_request({s}, {"\xed\xa0\x80", ""})));
}

TEST_CASE("otlp_json: append_export_request appends", "[tracing]") {
  std::string out = "prefix ";
  append_export_request(out, {sample_span()}, {});
  CHECK(out.rfind("prefix {\"resourceSpans\":", 0) == 0);
  CHECK(out.substr(7) == encode_export_request({sample_span()}, {}));
}

TEST_CASE("otlp_json: many spans in one request", "[tracing]") {
  std::vector<span_record> spans;
  for (int i = 0; i < 500; ++i) {
    auto s = sample_span();
    s.id = span_id::random();
    s.name = "span " + std::to_string(i);
    spans.push_back(s);
  }
  const auto doc = json::parse(encode_export_request(spans, {}));
  const auto& out = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
  REQUIRE(out.size() == 500);
  for (int i = 0; i < 500; ++i) {
    CHECK(out[i]["name"] == "span " + std::to_string(i));
    CHECK(out[i]["spanId"] == spans[i].id.to_hex());
  }
}

// Hidden, and not tagged [tracing] so that "[tracing]" does not pick it up:
// run with `weft_tests "[.bench]"`. The goal (300k spans/s on one core) is
// only checked in optimized builds without sanitizers.
TEST_CASE("otlp_json: encoder throughput", "[.bench]") {
  // A typical weft node span: a few ids, a JSON input and output, usage.
  std::vector<span_record> batch;
  for (int i = 0; i < 512; ++i) {
    span_record s;
    s.trace = trace_id::random();
    s.id = span_id::random();
    s.parent = span_id::random();
    s.name = "node:summarize";
    s.start_unix_ns = now_unix_ns();
    s.end_unix_ns = s.start_unix_ns + 1234567;
    s.status = i % 10 ? status_code::ok : status_code::error;
    if (s.status == status_code::error) s.status_message = "timeout after 30s";
    s.set("session.id", std::string("session-0123456789"));
    s.set("user.id", std::string("user-42"));
    s.set("weft.flow", std::string("examples/hello.yaml"));
    s.set("weft.node", std::string("summarize"));
    s.set("input.value",
          std::string(R"({"text":"The quick brown fox jumps over the lazy dog.","lang":"en"})"));
    s.set("output.value", std::string(R"({"summary":"A fox jumps.\nDone."})"));
    s.set("llm.usage.total_tokens", std::int64_t{117});
    s.set("llm.temperature", 0.2);
    batch.push_back(std::move(s));
  }
  std::string out;
  std::size_t spans = 0, bytes = 0;
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = std::chrono::duration<double>(0);
  while (elapsed.count() < 1.0) {
    out.clear();
    append_export_request(out, batch, {"weft", "0.1.0"});
    spans += batch.size();
    bytes += out.size();
    elapsed = std::chrono::steady_clock::now() - start;
  }
  const double per_second = spans / elapsed.count();
  WARN("OTLP/JSON encoder: " << static_cast<long>(per_second) << " spans/s, "
                             << static_cast<long>(bytes / elapsed.count() / 1e6) << " MB/s, "
                             << out.size() / batch.size() << " bytes/span");
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK(per_second > 300000);
#endif
}
