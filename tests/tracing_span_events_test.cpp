// Span events, string-array attributes and the producer/consumer kinds,
// through every encoder and decoder of spans: OTLP/JSON (write and read),
// the spool's MessagePack (version 2, and version 1 from an older weft),
// the CAF wire form, Langfuse's legacy ingestion and `weft trace show`.
#include <zlib.h>
#include <catch2/catch.hpp>

#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "export/messages.hpp"
#include "support/weft_command.hpp"
#include "tracing/langfuse.hpp"
#include "tracing/otlp_json.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "tracing/span_msgpack.hpp"
#include "tracing/spool.hpp"

using namespace weft::tracing;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using strings = std::vector<std::string>;

const trace_id sample_trace = *trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");

// A span with everything new: producer kind, arrays (one empty, one with
// bytes that need escaping), events with attributes of every type.
span_record rich_span() {
  span_record s;
  s.trace = sample_trace;
  s.id = span_id{0x00f067aa0ba902b7ULL};
  s.parent = span_id{0x1122334455667788ULL};
  s.trace_state = "a=1";
  s.name = "llm call";
  s.kind = span_kind::producer;
  s.start_unix_ns = 1700000000000000000ULL;
  s.end_unix_ns = 1700000000900000000ULL;
  s.status = status_code::error;
  s.status_message = "late";
  s.set("gen_ai.response.finish_reasons", strings{"stop", "length"});
  s.set("empty", strings{});
  s.set("odd", strings{"", "q\"b\\s\n", "h\xc3\xa9", std::string("nul\0x", 5)});
  s.set("n", std::int64_t{-9007199254740993});
  s.events.push_back({"first token",
                      1700000000250000000ULL,
                      {{"i", std::int64_t{7}},
                       {"d", 1.0 / 3.0},
                       {"b", false},
                       {"s", std::string("text")},
                       {"arr", strings{"x", "y"}}}});
  s.events.push_back({"", 0, {}});  // an event may be nameless and attribute-less
  s.events.push_back({"done", 1700000000900000000ULL, {{"why", strings{"stop"}}}});
  return s;
}

span_record consumer_span() {
  span_record s;
  s.trace = sample_trace;
  s.id = span_id{2};
  s.parent = span_id{0x00f067aa0ba902b7ULL};
  s.name = "consume";
  s.kind = span_kind::consumer;
  s.start_unix_ns = 5;
  s.end_unix_ns = 6;
  return s;
}

bool same_value(const attribute_value& a, const attribute_value& b) {
  if (a.index() != b.index()) return false;
  if (auto* d = std::get_if<double>(&a))
    return std::bit_cast<std::uint64_t>(*d) == std::bit_cast<std::uint64_t>(std::get<double>(b));
  return a == b;
}

void check_attributes(const std::vector<attribute>& a, const std::vector<attribute>& b) {
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    INFO("attribute " << a[i].key);
    CHECK(a[i].key == b[i].key);
    CHECK(same_value(a[i].value, b[i].value));
  }
}

void check_same(const span_record& a, const span_record& b) {
  CHECK(a.trace == b.trace);
  CHECK(a.id == b.id);
  CHECK(a.parent == b.parent);
  CHECK(a.trace_state == b.trace_state);
  CHECK(a.name == b.name);
  CHECK(a.kind == b.kind);
  CHECK(a.start_unix_ns == b.start_unix_ns);
  CHECK(a.end_unix_ns == b.end_unix_ns);
  CHECK(a.status == b.status);
  CHECK(a.status_message == b.status_message);
  check_attributes(a.attributes, b.attributes);
  REQUIRE(a.events.size() == b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    INFO("event " << i);
    CHECK(a.events[i].name == b.events[i].name);
    CHECK(a.events[i].time_unix_ns == b.events[i].time_unix_ns);
    check_attributes(a.events[i].attributes, b.events[i].attributes);
  }
}

std::string one_line_request(const std::string& span_json) {
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + span_json + "]}]}]}";
}

// A version 1 batch exactly as weft wrote it before events existed
// (encode_span_batch at commit ed1346f): [1, [span, span]] where the first
// span has a tracestate (11 fields) and one attribute of each scalar type
// ("s": "text", "i": -9007199254740993, "d": 0.25, "b": true), and the
// second has none (10 fields).
const std::string v1_batch_from_older_weft(
    "\x92\x01\x92\x9b\xc4\x10\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36\xcf"
    "\x00\xf0"
    "\x67\xaa\x0b\xa9\x02\xb7\x00\xa3\x72\x75\x6e\x02\xcf\x17\x97\x9c\xfe\x3d\x85\xcd\x15\xcf\x17"
    "\x97\x9c"
    "\xfe\x71\x08\x68\xb1\x01\xa0\x94\x92\xa1\x73\xa4\x74\x65\x78\x74\x92\xa1\x69\xd3\xff\xdf\xff"
    "\xff\xff"
    "\xff\xff\xff\x92\xa1\x64\xcb\x3f\xd0\x00\x00\x00\x00\x00\x00\x92\xa1\x62\xc3\xa3\x61\x3d\x31"
    "\x9a\xc4"
    "\x10\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36\x02\xcf\x00\xf0\x67\xaa"
    "\x0b\xa9"
    "\x02\xb7\xa4\x6e\x6f\x64\x65\x03\x05\x06\x02\xa2\x6e\x6f\x90",
    140);

void check_v1_batch(const std::vector<span_record>& back) {
  REQUIRE(back.size() == 2);
  CHECK(back[0].trace == sample_trace);
  CHECK(back[0].id.value == 0x00f067aa0ba902b7ULL);
  CHECK(back[0].name == "run");
  CHECK(back[0].kind == span_kind::server);
  CHECK(back[0].start_unix_ns == 1700000000123456789ULL);
  CHECK(back[0].end_unix_ns == 1700000000987654321ULL);
  CHECK(back[0].status == status_code::ok);
  CHECK(back[0].trace_state == "a=1");
  check_attributes(back[0].attributes, {{"s", std::string("text")},
                                        {"i", std::int64_t{-9007199254740993}},
                                        {"d", 0.25},
                                        {"b", true}});
  CHECK(back[0].events.empty());
  CHECK(back[1].parent.value == 0x00f067aa0ba902b7ULL);
  CHECK(back[1].name == "node");
  CHECK(back[1].kind == span_kind::client);
  CHECK(back[1].status == status_code::error);
  CHECK(back[1].status_message == "no");
  CHECK(back[1].trace_state.empty());
  CHECK(back[1].attributes.empty());
}

}  // namespace

// ------------------------------------------------------------ OTLP/JSON

TEST_CASE("span events: the exact OTLP/JSON of a span with an event and a string array",
          "[tracing][otlp][span_events]") {
  span_record s;
  s.trace = sample_trace;
  s.id = span_id{0x00f067aa0ba902b7ULL};
  s.name = "llm";
  s.kind = span_kind::producer;
  s.start_unix_ns = 1000;
  s.end_unix_ns = 3000;
  s.set("gen_ai.response.finish_reasons", strings{"stop", "length"});
  s.set("tags", strings{});
  s.events.push_back({"token", 1500, {{"index", std::int64_t{3}}, {"choices", strings{"a\"b"}}}});
  const std::string expected =
      R"({"resourceSpans":[{"resource":{"attributes":[)"
      R"({"key":"service.name","value":{"stringValue":"weft"}},)"
      R"({"key":"telemetry.sdk.name","value":{"stringValue":"weft"}},)"
      R"({"key":"telemetry.sdk.language","value":{"stringValue":"cpp"}}]},)"
      R"("scopeSpans":[{"scope":{"name":"weft"},"spans":[)"
      R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"llm","kind":4,)"
      R"("startTimeUnixNano":"1000","endTimeUnixNano":"3000","attributes":[)"
      R"({"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[)"
      R"({"stringValue":"stop"},{"stringValue":"length"}]}}},)"
      R"({"key":"tags","value":{"arrayValue":{"values":[]}}}],)"
      R"("events":[{"timeUnixNano":"1500","name":"token","attributes":[)"
      R"({"key":"index","value":{"intValue":"3"}},)"
      R"({"key":"choices","value":{"arrayValue":{"values":[{"stringValue":"a\"b"}]}}}]}],)"
      R"("status":{}}]}]}]})";
  CHECK(encode_export_request({s}, {}) == expected);
  CHECK(json::accept(expected));
}

TEST_CASE("span events: OTLP/JSON kinds 4 and 5, and no events key without events",
          "[tracing][otlp][span_events]") {
  const auto doc = json::parse(encode_export_request({rich_span(), consumer_span()}, {}));
  const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
  CHECK(spans[0]["kind"] == 4);
  CHECK(spans[1]["kind"] == 5);
  CHECK(spans[0]["events"].size() == 3);
  CHECK(spans[0]["events"][0]["timeUnixNano"] == "1700000000250000000");  // fixed64: a string
  CHECK(spans[0]["events"][1] ==
        json{{"timeUnixNano", "0"}, {"name", ""}, {"attributes", json::array()}});
  CHECK_FALSE(spans[1].contains("events"));
  // Bytes that need escaping inside array items come out as valid JSON.
  CHECK(spans[0]["attributes"][2]["value"]["arrayValue"]["values"][1]["stringValue"] ==
        "q\"b\\s\n");
}

TEST_CASE("span events: OTLP/JSON write -> read gives back the same spans",
          "[tracing][otlp][span_events]") {
  const std::vector<span_record> spans{rich_span(), consumer_span()};
  std::string error;
  auto back = read_otlp_json_line(encode_export_request(spans, {}), &error);
  INFO(error);
  REQUIRE(back.size() == 2);
  check_same(back[0], spans[0]);
  check_same(back[1], spans[1]);
}

TEST_CASE("span events: the reader takes other producers' events and arrays",
          "[tracing][otlp][span_events]") {
  const std::string span =
      R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0000000000000001","name":"x",)"
      R"("kind":"SPAN_KIND_CONSUMER",)"
      R"("attributes":[{"key":"mixed","value":{"arrayValue":{"values":[)"
      R"({"stringValue":"s"},{"intValue":"3"},{"boolValue":true},{"arrayValue":{"values":[{"stringValue":"in"}]}}]}}},)"
      R"({"key":"no_values","value":{"arrayValue":{}}}],)"
      R"("events":[{"timeUnixNano":1500,"name":"e1"},{"name":"e2","attributes":[{"key":"k","value":{"stringValue":"v"}}],"droppedAttributesCount":2}]})";
  std::string error;
  auto back = read_otlp_json_line(one_line_request(span), &error);
  INFO(error);
  REQUIRE(back.size() == 1);
  CHECK(back[0].kind == span_kind::consumer);
  // Items other than strings keep their AnyValue's JSON text.
  CHECK(std::get<strings>(*back[0].find("mixed")) ==
        strings{"s", R"({"intValue":"3"})", R"({"boolValue":true})",
                R"({"arrayValue":{"values":[{"stringValue":"in"}]}})"});
  CHECK(std::get<strings>(*back[0].find("no_values")).empty());
  REQUIRE(back[0].events.size() == 2);
  CHECK(back[0].events[0].name == "e1");
  CHECK(back[0].events[0].time_unix_ns == 1500);
  CHECK(back[0].events[0].attributes.empty());
  CHECK(back[0].events[1].time_unix_ns == 0);
  REQUIRE(back[0].events[1].attributes.size() == 1);
  CHECK(std::get<std::string>(back[0].events[1].attributes[0].value) == "v");
}

TEST_CASE("span events: reader errors name the event or array field",
          "[tracing][otlp][span_events]") {
  const std::string head =
      R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0000000000000001","name":"x",)";
  struct example {
    std::string span, message;
  };
  const example examples[] = {
      {head + R"("events":{}})", "spans[0].events: expected an array"},
      {head + R"("events":[1]})", "spans[0].events[0]: expected an object"},
      {head + R"("events":[{"timeUnixNano":"soon"}]})",
       "spans[0].events[0].timeUnixNano: expected an integer"},
      {head + R"("events":[{"name":3}]})", "spans[0].events[0].name: expected a string"},
      {head + R"("events":[{"attributes":[{"key":"k","value":{"intValue":"x"}}]}]})",
       "spans[0].events[0].attributes[0].value.intValue"},
      {head + R"("attributes":[{"key":"k","value":{"arrayValue":{"values":"s"}}}]})",
       "attributes[0].value.arrayValue.values: expected an array"},
      {head +
           R"("attributes":[{"key":"k","value":{"arrayValue":{"values":[{"stringValue":1}]}}}]})",
       "attributes[0].value.arrayValue.values[0].stringValue: expected a string"},
      {head + R"("attributes":[{"key":"k","value":{"arrayValue":[]}}]})",
       "attributes[0].value.arrayValue: expected an object"},
  };
  for (const auto& e : examples) {
    INFO(e.span);
    std::string error;
    CHECK(read_otlp_json_line(one_line_request(e.span), &error).empty());
    CHECK_THAT(error, Catch::Contains(e.message));
  }
}

// ------------------------------------------------------------ MessagePack

TEST_CASE("span events: msgpack version 2 round-trips events and arrays exactly",
          "[tracing][spool][span_events]") {
  auto rich = rich_span();
  rich.events[0].attributes.push_back({"nan", std::numeric_limits<double>::quiet_NaN()});
  rich.events[0].attributes.push_back({"-0", -0.0});
  const std::vector<span_record> batch{rich, consumer_span()};
  const std::string data = encode_span_batch(batch);
  CHECK(static_cast<unsigned char>(data[1]) == span_msgpack_version);
  CHECK(span_msgpack_version == 2);
  std::vector<span_record> back;
  std::string error;
  REQUIRE(decode_span_batch(data, back, &error));
  REQUIRE(back.size() == 2);
  check_same(back[0], batch[0]);
  check_same(back[1], batch[1]);

  // An array attribute alone, or an event alone, is enough to need version 2.
  span_record only_array = consumer_span();
  only_array.set("a", strings{"x"});
  span_record only_event = consumer_span();
  only_event.events.push_back({"e", 1, {}});
  for (const auto& s : {only_array, only_event}) {
    const auto one = encode_span_batch({s});
    CHECK(static_cast<unsigned char>(one[1]) == 2);
    REQUIRE(decode_span_batch(one, back, &error));
    check_same(back.at(0), s);
  }
}

TEST_CASE("span events: a spool batch written by an older weft (version 1) still decodes",
          "[tracing][spool][span_events]") {
  std::vector<span_record> back;
  std::string error;
  const bool ok = decode_span_batch(v1_batch_from_older_weft, back, &error);
  INFO(error);
  REQUIRE(ok);
  check_v1_batch(back);
  // And a batch that needs nothing new is still written as version 1, byte
  // for byte, so that an older weft can replay it after a downgrade.
  CHECK(encode_span_batch(back) == v1_batch_from_older_weft);
}

TEST_CASE(
    "span events: a spool holding a version 1 record from an older weft replays after the upgrade",
    "[tracing][spool][span_events]") {
  const auto dir = weft::test::scratch_dir("weft-span-events") / "spool";
  fs::remove_all(dir);
  fs::create_directories(dir);
  {
    // One segment with one framed record: [u32 length][u32 crc32][payload].
    std::string frame;
    auto put_u32 = [&frame](std::uint32_t v) {
      for (int i = 0; i < 4; ++i) frame += static_cast<char>((v >> (8 * i)) & 0xff);
    };
    const auto& payload = v1_batch_from_older_weft;
    put_u32(static_cast<std::uint32_t>(payload.size()));
    put_u32(static_cast<std::uint32_t>(::crc32(0L, reinterpret_cast<const Bytef*>(payload.data()),
                                               static_cast<uInt>(payload.size()))));
    frame += payload;
    std::ofstream(dir / "segment-00000000000000000001.wspool", std::ios::binary) << frame;
  }
  std::string error;
  auto s = spool::open(dir.string(), {}, &error);
  INFO(error);
  REQUIRE(s);
  REQUIRE(s->append({rich_span()}) == spool_result::ok);  // a new record, version 2
  auto old = s->peek();
  REQUIRE(old);
  check_v1_batch(old->spans);
  s->ack(*old);
  auto fresh = s->peek();
  REQUIRE(fresh);
  REQUIRE(fresh->spans.size() == 1);
  check_same(fresh->spans[0], rich_span());
  s->ack(*fresh);
  CHECK_FALSE(s->peek());
  CHECK(s->records_damaged() == 0);
  fs::remove_all(dir);
}

TEST_CASE("span events: msgpack refuses what its version cannot hold",
          "[tracing][spool][span_events]") {
  std::vector<span_record> back;
  std::string error;
  SECTION("an array value in a version 1 batch") {
    // [1, [[trace, 7, 0, "n", 1, 5, 6, 0, "", [["k", ["v"]]]]]]
    std::string data("\x92\x01\x91\x9a\xc4\x10", 6);
    data.append(reinterpret_cast<const char*>(sample_trace.bytes.data()),
                sample_trace.bytes.size());
    data += std::string("\x07\x00\xa1n\x01\x05\x06\x00\xa0\x91\x92\xa1k\x91\xa1v", 16);
    CHECK_FALSE(decode_span_batch(data, back, &error));
    CHECK(back.empty());
    CHECK_THAT(error, Catch::Contains("attribute value: unsupported type"));
  }
  SECTION("a version-1-shaped span in a version 2 batch") {
    auto data = v1_batch_from_older_weft;
    data[1] = 2;
    CHECK_FALSE(decode_span_batch(data, back, &error));
    CHECK_THAT(error, Catch::Contains("expected 12"));
  }
  SECTION("a version from the future") {
    auto data = encode_span_batch({rich_span()});
    data[1] = 3;
    CHECK_FALSE(decode_span_batch(data, back, &error));
    CHECK_THAT(error, Catch::Contains("batch version 3 is not supported"));
  }
  SECTION("every truncation of a version 2 batch") {
    const auto data = encode_span_batch({rich_span(), consumer_span()});
    for (std::size_t n = 0; n < data.size(); ++n) {
      INFO(n);
      CHECK_FALSE(decode_span_batch(std::string_view(data).substr(0, n), back, &error));
    }
  }
}

// ------------------------------------------------------------ CAF

TEST_CASE("span events: spans keep events and arrays through CAF serialization",
          "[exporter][span_events]") {
  auto rich = rich_span();
  rich.events[0].attributes.push_back({"tiny", 5e-324});
  rich.events[0].attributes.push_back({"inf", -std::numeric_limits<double>::infinity()});
  rich.set("big", 1e300);
  std::vector<span_record> spans{rich, consumer_span()};
  std::vector<char> buf;
  caf::binary_serializer sink{nullptr, buf};
  REQUIRE(!sink(spans));
  std::vector<span_record> back;
  caf::binary_deserializer source{nullptr, buf};
  REQUIRE(!source(back));
  REQUIRE(back.size() == 2);
  check_same(back[0], spans[0]);
  check_same(back[1], spans[1]);
}

// ------------------------------------------------------------ Langfuse

TEST_CASE("span events: Langfuse legacy metadata holds arrays and events",
          "[tracing][langfuse][span_events]") {
  langfuse_options o;
  const auto bodies = encode_legacy_batches({rich_span()}, o);
  REQUIRE(bodies.size() == 1);
  const auto body = json::parse(bodies[0]);
  const auto& batch = body["batch"];
  REQUIRE(batch.size() == 1);  // not a root: one observation
  const auto& meta = batch[0]["body"]["metadata"];
  CHECK(meta["gen_ai.response.finish_reasons"] == json::array({"stop", "length"}));
  CHECK(meta["empty"] == json::array());
  const auto& events = meta["weft.events"];
  REQUIRE(events.size() == 3);
  CHECK(events[0]["name"] == "first token");
  CHECK(events[0]["time"] == "2023-11-14T22:13:20.250000Z");
  CHECK(events[0]["attributes"]["i"] == 7);
  CHECK(events[0]["attributes"]["arr"] == json::array({"x", "y"}));
  CHECK(events[2]["attributes"]["why"] == json::array({"stop"}));
  CHECK_FALSE(meta.contains("weft.truncated"));
}

TEST_CASE("span events: Langfuse's OTLP endpoint gets events and arrays as they are",
          "[tracing][langfuse][span_events]") {
  std::vector<span_record> batch{rich_span()};
  langfuse_options o;
  add_langfuse_attributes(batch, o);
  const auto doc = json::parse(encode_export_request(batch, {}));
  const auto& span = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  CHECK(span["events"].size() == 3);
  CHECK(span["attributes"][0]["value"]["arrayValue"]["values"][0]["stringValue"] == "stop");
  std::string error;
  auto back = read_otlp_json_line(encode_export_request(batch, {}), &error);
  REQUIRE(back.size() == 1);
  check_same(back[0], batch[0]);
}

TEST_CASE("span events: Langfuse legacy metadata stays bounded with huge arrays and many events",
          "[tracing][langfuse][span_events]") {
  span_record s = consumer_span();
  strings many(100'000, std::string(50, 'x'));
  s.set("huge", many);
  for (int i = 0; i < 10'000; ++i)
    s.events.push_back({"e" + std::to_string(i), 5, {{"a", strings{std::string(100, 'y')}}}});
  langfuse_options o;
  const std::size_t field_limit = 10'000;
  const auto bodies = encode_legacy_batches({s}, o, 3'500'000, field_limit);
  REQUIRE(bodies.size() == 1);
  CHECK(bodies[0].size() < 4 * field_limit);
  const auto meta = json::parse(bodies[0])["batch"][0]["body"]["metadata"];
  CHECK(meta["weft.truncated"] == true);
  const auto& huge = meta["huge"];
  REQUIRE(huge.is_array());
  CHECK(huge.size() < many.size());
  CHECK_THAT(huge.back().get<std::string>(), Catch::Contains("more items left out"));
  CHECK(meta["weft.dropped_events"].get<std::size_t>() == 10'000);  // the array used up the room
}

// ------------------------------------------------------------ trace show

TEST_CASE("span events: weft trace show prints arrays and events",
          "[tracing][trace_show][span_events]") {
  span_record root;
  root.trace = sample_trace;
  root.id = span_id{1};
  root.name = "run";
  root.kind = span_kind::server;
  root.start_unix_ns = 1'000'000'000;
  root.end_unix_ns = 1'010'000'000;
  span_record llm = rich_span();
  llm.parent = root.id;
  llm.status = status_code::ok;
  llm.start_unix_ns = 1'001'000'000;
  llm.end_unix_ns = 1'009'000'000;
  llm.events = {
      {"first token", 1'001'500'000, {{"index", std::int64_t{0}}, {"reasons", strings{"a", "b"}}}},
      {"done", 1'009'000'000, {}}};
  llm.attributes = {{"gen_ai.response.finish_reasons", strings{"stop", "length"}}};
  const auto path = weft::test::scratch_dir("weft-span-events") / "events.jsonl";
  std::ofstream(path) << encode_export_request({root, llm}, {}) << '\n';
  auto r = weft::test::run_weft("trace show " + path.string());
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.err.empty());
  CHECK_THAT(r.out, Catch::Contains(
                        "  run  10.0 ms  unset\n"
                        "  `- llm call  8.0 ms  ok  gen_ai.response.finish_reasons=[stop, length]\n"
                        "       event first token  +0.500 ms  index=0  reasons=[a, b]\n"
                        "       event done  +8.0 ms\n"));
  fs::remove(path);
}
