// W3C traceparent parsing and formatting.
#include <catch2/catch.hpp>

#include "tracing/traceparent.hpp"

using namespace weft::tracing;

namespace {

constexpr const char* valid_sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// Parses `header`, expects failure, and returns the reason.
std::string rejection(std::string_view header) {
  std::string why;
  auto parsed = parse_traceparent(header, &why);
  CHECK_FALSE(parsed);
  CHECK_FALSE(why.empty());
  return why;
}

}  // namespace

TEST_CASE("traceparent: valid sampled and unsampled", "[tracing]") {
  auto p = parse_traceparent(valid_sampled);
  REQUIRE(p);
  CHECK(p->version == 0);
  CHECK(p->trace.to_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(p->parent.to_hex() == "00f067aa0ba902b7");
  CHECK(p->flags == 1);
  CHECK(p->sampled);

  auto u = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  REQUIRE(u);
  CHECK_FALSE(u->sampled);
  CHECK(u->flags == 0);

  // Unknown flag bits are kept; only bit 0 means "sampled".
  auto f = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  REQUIRE(f);
  CHECK(f->flags == 3);
  CHECK(f->sampled);
  auto g = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe");
  REQUIRE(g);
  CHECK_FALSE(g->sampled);
}

TEST_CASE("traceparent: uppercase hex is invalid", "[tracing]") {
  CHECK_THAT(rejection("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
             Catch::Contains("trace-id") && Catch::Contains("uppercase"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"),
             Catch::Contains("parent-id"));
  CHECK_THAT(rejection("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
             Catch::Contains("version"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A"),
             Catch::Contains("trace-flags"));
}

TEST_CASE("traceparent: wrong lengths", "[tracing]") {
  CHECK_THAT(rejection(""), Catch::Contains("empty"));
  CHECK_THAT(rejection("0"), Catch::Contains("short"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"),
             Catch::Contains("55"));
  // trace-id one short, parent-id one long: same total length, dashes move.
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"),
             Catch::Contains("'-'"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-701"),
             Catch::Contains("'-'"));
}

TEST_CASE("traceparent: version ff is invalid", "[tracing]") {
  CHECK_THAT(rejection("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
             Catch::Contains("ff"));
}

TEST_CASE("traceparent: future versions", "[tracing]") {
  // A higher version may carry more fields after another dash.
  auto p = parse_traceparent(
      "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds");
  REQUIRE(p);
  CHECK(p->version == 0xcc);
  CHECK(p->sampled);
  CHECK(p->trace.to_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  // Exactly 55 characters is fine too.
  CHECK(parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  // But what follows the flags must start with a dash.
  CHECK_THAT(rejection("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x"),
             Catch::Contains("after trace-flags"));
  // And a future version is no excuse for being short.
  rejection("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7");
}

TEST_CASE("traceparent: all-zero ids are invalid", "[tracing]") {
  CHECK(rejection("00-00000000000000000000000000000000-00f067aa0ba902b7-01") ==
        "trace-id is all zeros");
  CHECK(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01") ==
        "parent-id is all zeros");
}

TEST_CASE("traceparent: non-hex and missing dashes", "[tracing]") {
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01"),
             Catch::Contains("not hex"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bx-01"),
             Catch::Contains("not hex"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0z"),
             Catch::Contains("not hex"));
  CHECK_THAT(rejection("0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
             Catch::Contains("version"));
  CHECK_THAT(rejection("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
             Catch::Contains("after version"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01"),
             Catch::Contains("after trace-id"));
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01"),
             Catch::Contains("after parent-id"));
  // Dashes dropped altogether: too short.
  rejection("004bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701");
}

TEST_CASE("traceparent: trailing garbage for version 00", "[tracing]") {
  CHECK_THAT(rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"),
             Catch::Contains("exactly 55"));
  rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x");
}

TEST_CASE("traceparent: whitespace", "[tracing]") {
  // Optional whitespace around a header value is HTTP's, not the value's.
  auto p = parse_traceparent(" \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t ");
  REQUIRE(p);
  CHECK(p->sampled);
  // Inside the value it is an error.
  rejection("00- 4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  rejection("00-4bf92f3577b34da6a3ce929d0e0e4736 -00f067aa0ba902b7-01");
  rejection("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\n");
  rejection(" \t ");
}

TEST_CASE("traceparent: parse works without a reason pointer", "[tracing]") {
  CHECK_FALSE(parse_traceparent("garbage"));
  CHECK(parse_traceparent(valid_sampled));
}

TEST_CASE("traceparent: format and parse round trip", "[tracing]") {
  const auto t = trace_id::random();
  const auto s = span_id::random();
  const auto sampled = format_traceparent(t, s, true);
  CHECK(sampled.size() == 55);
  CHECK(sampled == "00-" + t.to_hex() + "-" + s.to_hex() + "-01");
  CHECK(format_traceparent(t, s, false).substr(52) == "-00");
  auto p = parse_traceparent(sampled);
  REQUIRE(p);
  CHECK(p->trace == t);
  CHECK(p->parent == s);
  CHECK(p->sampled);
}
