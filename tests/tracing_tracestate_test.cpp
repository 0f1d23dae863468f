// W3C tracestate: validation, normalisation and the 512-character cut, and
// the field's round trips through OTLP/JSON and the spool's MessagePack.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "tracing/otlp_json.hpp"
#include "tracing/otlp_json_reader.hpp"
#include "tracing/span_msgpack.hpp"
#include "tracing/traceparent.hpp"

using namespace weft::tracing;

namespace {

// Parses `header`, expects success, and returns the normal form.
std::string normal(std::string_view header) {
  std::string why;
  auto parsed = parse_tracestate(header, &why);
  INFO(why);
  REQUIRE(parsed);
  CHECK(parsed->dropped == 0);
  return parsed->value;
}

// Parses `header`, expects failure, and returns the reason.
std::string rejection(std::string_view header) {
  std::string why;
  auto parsed = parse_tracestate(header, &why);
  CHECK_FALSE(parsed);
  CHECK_FALSE(why.empty());
  return why;
}

// "k0=v,k1=v,...": n members with distinct keys.
std::string members(int n, const std::string& value = "v") {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? "," : "") + ("k" + std::to_string(i)) + "=" + value;
  return out;
}

span_record span_with_state(std::string state) {
  span_record s;
  s.trace = *trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  s.id = span_id{0x00f067aa0ba902b7ULL};
  s.parent = span_id{0x1122334455667788ULL};
  s.trace_state = std::move(state);
  s.name = "node";
  s.start_unix_ns = 1;
  s.end_unix_ns = 2;
  return s;
}

}  // namespace

TEST_CASE("tracestate: valid lists keep their members in order", "[tracing]") {
  CHECK(normal("rojo=00f067aa0ba902b7") == "rojo=00f067aa0ba902b7");
  CHECK(normal("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE") ==
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  auto p = parse_tracestate("a=1,b=2,c=3");
  REQUIRE(p);
  CHECK(p->members == 3);
  // Every character keys allow, and values with spaces, quotes and the like.
  CHECK(normal("a0_-*/z=x") == "a0_-*/z=x");
  CHECK(normal("k= lead and inner spaces") == "k= lead and inner spaces");
  CHECK(normal("k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~") == "k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~");
}

TEST_CASE("tracestate: whitespace around members is dropped", "[tracing]") {
  CHECK(normal("  rojo=00f067aa0ba902b7 ,\tcongo=t61rcWkgMzE\t ") ==
        "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  // A trailing space is whitespace before the comma, never part of the value.
  CHECK(normal("a=1   ,b=2") == "a=1,b=2");
}

TEST_CASE("tracestate: empty members are allowed and dropped", "[tracing]") {
  CHECK(normal("a=1,,b=2") == "a=1,b=2");
  CHECK(normal(",a=1, ,\t,b=2,") == "a=1,b=2");
  auto none = parse_tracestate(" , ,\t");
  REQUIRE(none);
  CHECK(none->value.empty());
  CHECK(none->members == 0);
  CHECK(normal("").empty());
  // Empty members do not count toward the 32.
  CHECK(normal(",,," + members(32) + ",,,") == members(32));
}

TEST_CASE("tracestate: at most 32 members", "[tracing]") {
  auto p = parse_tracestate(members(32));
  REQUIRE(p);
  CHECK(p->members == 32);
  CHECK_THAT(rejection(members(33)), Catch::Contains("more than 32"));
}

TEST_CASE("tracestate: a repeated key is invalid", "[tracing]") {
  CHECK(rejection("a=1,b=2,a=3") == "list member 3 repeats the key of list member 1");
  rejection("a@sys=1,a@sys=2");
  // Keys that only share a prefix are different keys.
  CHECK(normal("a=1,ab=2,a@b=3") == "a=1,ab=2,a@b=3");
}

TEST_CASE("tracestate: key characters and lengths", "[tracing]") {
  CHECK_THAT(rejection("Rojo=1"), Catch::Contains("must start with a lowercase letter"));
  CHECK_THAT(rejection("rOjo=1"), Catch::Contains("uppercase") && Catch::Contains("offset 1"));
  CHECK_THAT(rejection("1abc=1"), Catch::Contains("must start with a lowercase letter"));
  CHECK_THAT(rejection("_abc=1"), Catch::Contains("must start"));
  CHECK_THAT(rejection("a.b=1"), Catch::Contains("'.'"));
  CHECK_THAT(rejection("a b=1"), Catch::Contains("whitespace"));
  CHECK_THAT(rejection("a =1"), Catch::Contains("whitespace"));  // none around '='
  CHECK_THAT(rejection("a\xc3\xa9=1"), Catch::Contains("non-ASCII"));
  CHECK_THAT(rejection("=1"), Catch::Contains("key is empty"));
  CHECK_THAT(rejection("a=1,justakey"), Catch::Contains("list member 2 has no '='"));

  CHECK(normal("a" + std::string(255, 'b') + "=1").size() == 258);
  CHECK_THAT(rejection("a" + std::string(256, 'b') + "=1"), Catch::Contains("longer than 256"));
}

TEST_CASE("tracestate: multi-tenant keys", "[tracing]") {
  CHECK(normal("fw529a3039@dt=FFFF, t61rcwkgmze@vendor=x") ==
        "fw529a3039@dt=FFFF,t61rcwkgmze@vendor=x");
  // A tenant may start with a digit; a simple key may not.
  CHECK(normal("0tenant@sys=1") == "0tenant@sys=1");
  CHECK(normal(std::string(241, 't') + "@" + std::string(14, 's') + "=1").size() == 258);
  CHECK_THAT(rejection(std::string(242, 't') + "@sys=1"),
             Catch::Contains("tenant id") && Catch::Contains("longer than 241"));
  CHECK_THAT(rejection("t@" + std::string(15, 's') + "=1"),
             Catch::Contains("system id") && Catch::Contains("longer than 14"));
  CHECK_THAT(rejection("t@1sys=1"), Catch::Contains("system id") && Catch::Contains("must start"));
  CHECK_THAT(rejection("@sys=1"), Catch::Contains("tenant id of the key is empty"));
  CHECK_THAT(rejection("t@=1"), Catch::Contains("system id of the key is empty"));
  CHECK_THAT(rejection("a@b@c=1"), Catch::Contains("more than one '@'"));
  CHECK_THAT(rejection("t@sYs=1"), Catch::Contains("uppercase") && Catch::Contains("offset 3"));
}

TEST_CASE("tracestate: value characters and lengths", "[tracing]") {
  CHECK_THAT(rejection("a=b=c"), Catch::Contains("'='"));
  CHECK_THAT(rejection("a=1,b="), Catch::Contains("list member 2: value is empty"));
  CHECK_THAT(rejection("a= \t"), Catch::Contains("value is empty"));
  CHECK_THAT(rejection("a=x\ty"), Catch::Contains("whitespace"));
  CHECK_THAT(rejection("a=x\ny"), Catch::Contains("control"));
  CHECK_THAT(rejection("a=x\x7fy"), Catch::Contains("control"));
  CHECK_THAT(rejection("a=\xc3\xa9"), Catch::Contains("non-ASCII"));
  // 256 characters is the most a value may have.
  CHECK(normal("a=" + std::string(256, 'v')).size() == 258);
  CHECK_THAT(rejection("a=" + std::string(257, 'v')), Catch::Contains("longer than 256"));
}

TEST_CASE("tracestate: reasons never echo the header", "[tracing]") {
  const std::string secret = "sk-LIVE1234";
  for (const auto& header :
       {"Key=" + secret, "a=" + secret + "\x01", "a=" + secret + ",a=" + secret})
    CHECK_THAT(rejection(header), !Catch::Contains(secret) && !Catch::Contains("LIVE"));
  CHECK_FALSE(parse_tracestate("A=1"));  // works without a reason pointer
}

TEST_CASE("tracestate: longer than 512 characters is cut by whole members", "[tracing]") {
  // 20 members of 30 characters: 619 with commas. Small members go from the
  // end, so the first 16 stay (16 * 30 + 15 = 495).
  const std::string value(26, 'v');  // "kNN=" and 26 more: 30 characters
  std::string header;
  for (int i = 10; i < 30; ++i)
    header += (i > 10 ? "," : "") + ("k" + std::to_string(i)) + "=" + value;
  auto p = parse_tracestate(header);
  REQUIRE(p);
  CHECK(p->dropped == 4);
  CHECK(p->members == 16);
  CHECK(p->value.size() == 495);
  CHECK(p->value == header.substr(0, 495));

  // Members longer than 128 characters go first, the last of them first,
  // wherever they are.
  const std::string big1 = "big1=" + std::string(245, 'x');  // 250
  const std::string big2 = "big2=" + std::string(245, 'y');  // 250
  const std::string small = members(10);                     // k0=v..k9=v: 49
  // 555 in all; dropping big2 alone makes it fit.
  auto q = parse_tracestate(big1 + "," + small + "," + big2 + ",z=1");
  REQUIRE(q);
  CHECK(q->dropped == 1);
  CHECK(q->value == big1 + "," + small + ",z=1");

  // A single member of 513 characters cannot fit at all.
  auto r = parse_tracestate(std::string(256, 'k') + "=" + std::string(256, 'v') + ",a=1");
  REQUIRE(r);
  CHECK(r->dropped == 1);
  CHECK(r->value == "a=1");

  // Exactly 512 stays whole, and whitespace does not count toward it; one
  // more character costs the large member at the end.
  const std::string first = "a=" + std::string(251, 'v');   // 253
  const std::string second = "b=" + std::string(256, 'w');  // 258
  REQUIRE(first.size() + 1 + second.size() == 512);
  auto e = parse_tracestate("  " + first + " ,\t " + second + " ");
  REQUIRE(e);
  CHECK(e->dropped == 0);
  CHECK(e->value == first + "," + second);
  auto over = parse_tracestate(first + "v," + second);
  REQUIRE(over);
  CHECK(over->dropped == 1);
  CHECK(over->value == first + "v");
}

TEST_CASE("tracestate: OTLP/JSON writes traceState in field order and reads it back", "[tracing]") {
  const auto with = span_with_state("rojo=00f067aa0ba902b7,congo=\"q\\uote\"");
  const auto text = encode_export_request({with, span_with_state("")}, {});
  // traceState sits between spanId and parentSpanId, as in the proto.
  const auto span_id_at = text.find("\"spanId\"");
  const auto state_at = text.find("\"traceState\"");
  const auto parent_at = text.find("\"parentSpanId\"");
  REQUIRE(state_at != std::string::npos);
  CHECK(span_id_at < state_at);
  CHECK(state_at < parent_at);

  const auto doc = nlohmann::json::parse(text);
  const auto& spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"];
  CHECK(spans[0]["traceState"] == with.trace_state);
  CHECK_FALSE(spans[1].contains("traceState"));  // empty: omitted, as a default

  std::string error;
  const auto back = read_otlp_json_line(text, &error);
  INFO(error);
  REQUIRE(back.size() == 2);
  CHECK(back[0].trace_state == with.trace_state);
  CHECK(back[0].parent == with.parent);
  CHECK(back[0].name == "node");
  CHECK(back[1].trace_state.empty());
}

TEST_CASE("tracestate: the spool's MessagePack round-trips it", "[tracing][spool]") {
  const std::vector<span_record> batch{span_with_state("a=1,b@c=x y"), span_with_state("")};
  std::vector<span_record> back;
  std::string error;
  REQUIRE(decode_span_batch(encode_span_batch(batch), back, &error));
  REQUIRE(back.size() == 2);
  CHECK(back[0].trace_state == "a=1,b@c=x y");
  CHECK(back[0].name == "node");
  CHECK(back[1].trace_state.empty());
}

TEST_CASE("tracestate: spool records from before the field still read", "[tracing][spool]") {
  // A version 1 batch with one span of 10 fields, as releases before
  // tracestate wrote it: [1, [[trace, id, parent, name, kind, start, end,
  // status, message, [["k", "v"]]]]].
  std::string old("\x92\x01\x91\x9a\xc4\x10", 6);
  const auto trace = *trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  old.append(reinterpret_cast<const char*>(trace.bytes.data()), trace.bytes.size());
  old += std::string("\x07\x00\xa1n\x01\x05\x06\x00\xa0\x91\x92\xa1k\xa1v", 15);
  std::vector<span_record> back;
  std::string error;
  const bool ok = decode_span_batch(old, back, &error);
  INFO(error);
  REQUIRE(ok);
  REQUIRE(back.size() == 1);
  CHECK(back[0].trace == trace);
  CHECK(back[0].id.value == 7);
  CHECK(back[0].name == "n");
  CHECK(back[0].end_unix_ns == 6);
  CHECK(back[0].trace_state.empty());
  REQUIRE(back[0].attributes.size() == 1);
  CHECK(back[0].attributes[0].key == "k");

  // And a span without a tracestate is still written the old way, so an
  // older release can replay a newer spool of such spans.
  CHECK(encode_span_batch({back[0]}) == old);
}
