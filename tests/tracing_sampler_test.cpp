// Head sampling.
#include <catch2/catch.hpp>

#include <limits>

#include "tracing/sampler.hpp"

using namespace weft::tracing;

namespace {

trace_id with_low_bytes(std::uint64_t low) {
  trace_id t;
  t.bytes[0] = 0x42;  // keep it valid whatever `low` is
  for (int i = 0; i < 8; ++i) t.bytes[8 + i] = static_cast<std::uint8_t>(low >> (56 - 8 * i));
  return t;
}

}  // namespace

TEST_CASE("sampler: ratio bounds", "[tracing]") {
  const auto t = trace_id::random();
  CHECK_FALSE(sample_decision(t, 0.0));
  CHECK_FALSE(sample_decision(t, -1.0));
  CHECK_FALSE(sample_decision(t, std::numeric_limits<double>::quiet_NaN()));
  CHECK(sample_decision(t, 1.0));
  CHECK(sample_decision(t, 2.0));
  // The extremes of the id space at ratios close to the bounds.
  CHECK(sample_decision(with_low_bytes(0), 1e-12));
  CHECK_FALSE(sample_decision(with_low_bytes(~0ULL), std::nextafter(1.0, 0.0)));
}

TEST_CASE("sampler: decision depends on the last 8 bytes only", "[tracing]") {
  // Half of the id space lies below 2^63.
  CHECK(sample_decision(with_low_bytes(0x7fffffffffffffffULL), 0.5));
  CHECK_FALSE(sample_decision(with_low_bytes(0x8000000000000000ULL), 0.5));
  auto a = with_low_bytes(0x1000);
  auto b = a;
  b.bytes[3] = 0x99;  // high half differs
  CHECK(sample_decision(a, 0.001) == sample_decision(b, 0.001));
}

TEST_CASE("sampler: deterministic per trace id", "[tracing]") {
  for (int i = 0; i < 1000; ++i) {
    const auto t = trace_id::random();
    const bool first = sample_decision(t, 0.3);
    CHECK(sample_decision(t, 0.3) == first);
    // Monotonic in the ratio: sampled at 0.3 means sampled at anything more.
    if (first) CHECK(sample_decision(t, 0.6));
  }
}

TEST_CASE("sampler: ratio is respected over 100k random ids", "[tracing]") {
  constexpr int n = 100000;
  for (double ratio : {0.01, 0.25, 0.5, 0.9}) {
    int kept = 0;
    for (int i = 0; i < n; ++i) kept += sample_decision(trace_id::random(), ratio);
    const double got = static_cast<double>(kept) / n;
    INFO("ratio " << ratio << " kept " << got);
    CHECK(got > ratio - 0.02);
    CHECK(got < ratio + 0.02);
  }
}

TEST_CASE("sampler: the parent's decision wins", "[tracing]") {
  const auto t = trace_id::random();
  CHECK(should_sample(true, t, 0.0));
  CHECK_FALSE(should_sample(false, t, 1.0));
  CHECK(should_sample(std::nullopt, t, 1.0));
  CHECK_FALSE(should_sample(std::nullopt, t, 0.0));
  CHECK(should_sample(std::nullopt, t, 0.4) == sample_decision(t, 0.4));
}
