// Cancellation flows down through child runs: a node timeout on a map of
// 100 sleeping items ends every item within 100 ms, every span of the
// subtree is closed with status error, and no actor outlives the run; a
// run-level timeout covers every descendant the same way.
#include <chrono>
#include <thread>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"
#include "support/flow_dir.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

void write_sleepers(const flow_dir& d) {
  d.write("nap.yaml", R"(
flow: nap
inputs: {item: {type: any}}
nodes:
  z: {type: sleep, params: {ms: 30000}, inputs: {value: $inputs.item}}
outputs: {v: z.value}
)");
  d.write("wrap.yaml", R"(
flow: wrap
inputs: {item: {type: any}}
nodes:
  again: {type: flow, params: {flow: nap}, inputs: {item: $inputs.item}}
outputs: {v: again.v}
)");
}

// The actors alive in the engine's system, once the count settles.
std::size_t settled_actors(engine& eng) {
  auto& reg = engine_internals::system(eng).registry();
  std::size_t last = reg.running();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(10ms);
    auto now = reg.running();
    if (now == last && eng.runs_in_flight() == 0) return now;
    last = now;
  }
  return last;
}

}  // namespace

TEST_CASE("cancellation: a node timeout on a map of 100 sleeping items ends them all within 100 ms",
          "[control][cancel]") {
  flow_dir d;
  write_sleepers(d);
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto plan = eng.load_file(d.write("top.yaml", R"(
flow: top
inputs: {xs: {type: array}}
nodes:
  each: {type: map, timeout_ms: 300, params: {flow: ./wrap.yaml, max_concurrency: 100}, inputs: {items: $inputs.xs}}
outputs: {r: each.results}
)"))
                  .flow.plan();
  REQUIRE(plan);
  value xs = value::array();
  for (int i = 0; i < 100; ++i) xs.push_back(i);
  // Warm up (the first run spawns the engine's lazily started parts), then count.
  (void)eng.run(plan, {{"xs", value::array()}}).get();
  const auto before = settled_actors(eng);

  auto pending = eng.run(plan, {{"xs", xs}});
  std::this_thread::sleep_for(150ms);
  // The count sees the subtree: 100 items x (2 runs + 2 nodes) are alive.
  CHECK(engine_internals::system(eng).registry().running() >= before + 400);
  auto r = pending.get();
  CHECK_FALSE(r.ok);
  CHECK(r.error.find("timeout") != std::string::npos);
  CHECK(r.duration_ms < 300 + 100 + 200);  // generous: a shared CI machine
  CHECK(settled_actors(eng) == before);    // no actor outlives the run
  eng.shutdown();

  auto spans = spans_of(st->snapshot(), r.trace_id);
  // run + each + 100 x (wrap run + again + nap run + z)
  REQUIRE(spans.size() == 2 + 100 * 4);
  const tracing::span_record* each = find_span(spans, "each");
  REQUIRE(each);
  const auto timeout_at = each->start_unix_ns + 300'000'000ull;
  std::uint64_t latest_end = 0;
  for (auto& s : spans) {
    INFO(s.name);
    CHECK(s.end_unix_ns >= s.start_unix_ns);  // closed
    CHECK(s.end_unix_ns > 0);
    CHECK(s.status == tracing::status_code::error);
    latest_end = std::max(latest_end, s.end_unix_ns);
  }
  // Every item's spans ended within 100 ms of the node's timeout.
  CHECK(latest_end < timeout_at + 100'000'000ull);
}

TEST_CASE("cancellation: a run-level timeout cancels every descendant", "[control][cancel]") {
  flow_dir d;
  write_sleepers(d);
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto plan = eng.load_file(d.write("top.yaml", R"(
flow: top
timeout_ms: 200
inputs: {x: {type: any, default: 1}}
nodes:
  deep: {type: flow, params: {flow: ./wrap.yaml}, inputs: {item: $inputs.x}}
outputs: {v: deep.v}
)"))
                  .flow.plan();
  REQUIRE(plan);
  auto r = eng.run(plan, {}).get();
  CHECK_FALSE(r.ok);
  CHECK(r.timed_out);
  eng.shutdown();
  auto spans = spans_of(st->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 6);  // top, deep, wrap, again, nap, z
  for (auto& s : spans) {
    INFO(s.name);
    CHECK(s.status == tracing::status_code::error);
  }
  auto* z = find_span(spans, "z");
  REQUIRE(z);
  CHECK(z->status_message.find("cancelled") != std::string::npos);
}
