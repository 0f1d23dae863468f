// Trace and span ids, and the span clock.
#include <catch2/catch.hpp>

#include <algorithm>
#include <set>
#include <thread>
#include <unordered_set>
#include <vector>

#include "tracing/ids.hpp"
#include "tracing/span.hpp"

using namespace weft::tracing;

TEST_CASE("trace_id hex round trip", "[tracing]") {
  auto id = trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");
  REQUIRE(id);
  CHECK(id->bytes[0] == 0x4b);
  CHECK(id->bytes[15] == 0x36);
  CHECK(id->to_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
  CHECK(id->valid());
  // Either case parses; output is always lowercase.
  auto upper = trace_id::from_hex("4BF92F3577B34DA6A3CE929D0E0E4736");
  REQUIRE(upper);
  CHECK(*upper == *id);
}

TEST_CASE("trace_id::from_hex rejects bad input", "[tracing]") {
  CHECK_FALSE(trace_id::from_hex(""));
  CHECK_FALSE(trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e473"));    // 31
  CHECK_FALSE(trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e47366"));  // 33
  CHECK_FALSE(trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e473g"));
  CHECK_FALSE(trace_id::from_hex("00000000000000000000000000000000"));
  CHECK_FALSE(trace_id{}.valid());
}

TEST_CASE("span_id hex is big-endian", "[tracing]") {
  span_id s{0x00f067aa0ba902b7ULL};
  CHECK(s.to_hex() == "00f067aa0ba902b7");
  auto back = span_id::from_hex("00f067aa0ba902b7");
  REQUIRE(back);
  CHECK(*back == s);
  CHECK(span_id{1}.to_hex() == "0000000000000001");
  CHECK(span_id{~0ULL}.to_hex() == "ffffffffffffffff");
  CHECK_FALSE(span_id::from_hex("0000000000000000"));
  CHECK_FALSE(span_id::from_hex("00f067aa0ba902b"));
  CHECK_FALSE(span_id::from_hex("00f067aa0ba902bz"));
  CHECK_FALSE(span_id{}.valid());
}

TEST_CASE("append_hex writes lowercase pairs", "[tracing]") {
  const std::uint8_t data[] = {0x00, 0x0f, 0xa0, 0xff};
  std::string s = "x";
  append_hex(s, data, sizeof data);
  CHECK(s == "x000fa0ff");
}

TEST_CASE("random ids are never zero and unique over 100k", "[tracing]") {
  constexpr int n = 100000;
  std::unordered_set<std::uint64_t> spans;
  std::set<trace_id> traces;
  for (int i = 0; i < n; ++i) {
    auto s = span_id::random();
    auto t = trace_id::random();
    REQUIRE(s.valid());
    REQUIRE(t.valid());
    spans.insert(s.value);
    traces.insert(t);
  }
  CHECK(spans.size() == n);
  CHECK(traces.size() == n);
}

TEST_CASE("random ids differ across threads", "[tracing]") {
  // Each thread has its own generator; they must not share a seed.
  constexpr int threads = 4, per_thread = 20000;
  std::vector<std::vector<std::uint64_t>> got(threads);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&got, t] {
      for (int i = 0; i < per_thread; ++i) got[t].push_back(span_id::random().value);
    });
  for (auto& th : pool) th.join();
  std::unordered_set<std::uint64_t> all;
  for (auto& v : got) all.insert(v.begin(), v.end());
  CHECK(all.size() == threads * per_thread);
}

TEST_CASE("now_unix_ns is the wall clock in nanoseconds", "[tracing]") {
  const auto a = now_unix_ns();
  const auto b = now_unix_ns();
  CHECK(a > 1'600'000'000ULL * 1'000'000'000ULL);  // after September 2020
  CHECK(a < 4'000'000'000ULL * 1'000'000'000ULL);
  CHECK(b >= a);
}
