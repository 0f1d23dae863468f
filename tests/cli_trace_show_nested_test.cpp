// `weft trace show` over child runs, as a real process: map items and loop
// iterations are labelled, a map's items past the fifth fold into one line
// unless --expand. The trace files are synthetic, written with the file
// sink's encoder (one OTLP/JSON request per line).
#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>

#include "support/nested_trace.hpp"
#include "support/weft_command.hpp"
#include "tracing/otlp_json.hpp"

using weft::test::nested_trace;
using weft::test::run_weft;

namespace {

const auto the_trace = *weft::tracing::trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");

std::string write_trace(const std::string& name,
                        const std::vector<weft::tracing::span_record>& spans) {
  auto path = weft::test::scratch_dir() / name;
  std::ofstream(path) << weft::tracing::encode_export_request(spans, {}) << '\n';
  return path.string();
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::size_t lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A top-level run whose map node `fan` ran `items` items, each a run of one
// node; items started in reverse order, so that print order is by index.
nested_trace one_map(int items) {
  nested_trace t(the_trace);
  auto top = t.top("outer", "R");
  auto fan = t.node(top, "fan", "map");
  for (int i = 0; i < items; ++i) {
    auto item = t.child_run(fan, "item_flow", "R." + std::to_string(i), "weft.map.index", i);
    t.spans[item].start_unix_ns = 90'000'000 - static_cast<std::uint64_t>(i) * 1000;
    t.spans[item].end_unix_ns = t.spans[item].start_unix_ns + 500;
    t.node(item, "step", "template");
  }
  return t;
}

}  // namespace

TEST_CASE("weft trace show: a map of 14 items shows 5 and folds 9; --expand shows all 14",
          "[cli][trace_show][nested]") {
  auto path = write_trace("map14.jsonl", one_map(14).spans);
  auto r = run_weft("trace show " + path);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("trace 4bf92f3577b34da6a3ce929d0e0e4736  (30 spans)\n"
                                      "  outer  "));
  CHECK(count(r.out, "[item ") == 5);
  for (int i = 0; i < 5; ++i)
    CHECK_THAT(r.out, Catch::Contains("[item " + std::to_string(i) + "] item_flow  "));
  CHECK(r.out.find("[item 5]") == std::string::npos);
  // The first five by index, in order, then the fold line at the items' indentation.
  CHECK(r.out.find("[item 0]") < r.out.find("[item 4]"));
  CHECK_THAT(r.out, Catch::Contains("     |- [item 4] item_flow  "));
  CHECK_THAT(r.out, Catch::Contains("     |  `- step  "));
  CHECK_THAT(r.out,
             Catch::EndsWith("     `- \u2026 9 more items (18 spans; --expand shows them)\n"));
  CHECK(r.out.find("parent cycle") == std::string::npos);
  CHECK(lines(r.out) == 1 + 2 + 5 * 2 + 1);

  auto all = run_weft("trace show --expand " + path);
  INFO(all.out << all.err);
  REQUIRE(all.code == 0);
  CHECK(count(all.out, "[item ") == 14);
  CHECK(all.out.find("more items") == std::string::npos);
  for (int i = 1; i < 14; ++i)
    CHECK(all.out.find("[item " + std::to_string(i - 1) + "]") <
          all.out.find("[item " + std::to_string(i) + "]"));
  CHECK_THAT(all.out, Catch::Contains("     `- [item 13] item_flow  "));
  CHECK(lines(all.out) == 1 + 2 + 14 * 2);
}

TEST_CASE("weft trace show: five items are not folded; loop iterations are labelled",
          "[cli][trace_show][nested]") {
  auto t = one_map(5);
  auto loop = t.node(0, "again", "loop");
  for (int k = 0; k < 7; ++k) {
    auto it = t.child_run(loop, "body", "R.l" + std::to_string(k), "weft.loop.iteration", k);
    t.node(it, "step", "template");
  }
  auto r = run_weft("trace show " + write_trace("map5.jsonl", t.spans));
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "[item ") == 5);
  CHECK(r.out.find("more items") == std::string::npos);
  CHECK_THAT(r.out, Catch::Contains("`- [item 4] item_flow  "));
  // Iterations are not map items: all seven are shown, in start order.
  CHECK(count(r.out, "] body  ") == 7);
  CHECK_THAT(r.out, Catch::Contains("|- [iteration 0] body  "));
  CHECK_THAT(r.out, Catch::Contains("`- [iteration 6] body  "));
}

TEST_CASE("weft trace show: maps inside map items fold at each level",
          "[cli][trace_show][nested]") {
  nested_trace t(the_trace);
  auto top = t.top("outer", "R");
  auto fan = t.node(top, "fan", "map");
  for (int i = 0; i < 7; ++i) {
    auto run = "R." + std::to_string(i);
    auto item = t.child_run(fan, "item_flow", run, "weft.map.index", i);
    auto inner = t.node(item, "inner_fan", "map");
    for (int k = 0; k < 7; ++k)
      t.child_run(inner, "leaf_flow", run + "." + std::to_string(k), "weft.map.index", k);
  }
  auto path = write_trace("nested_maps.jsonl", t.spans);
  auto r = run_weft("trace show " + path);
  INFO(r.out << r.err);
  REQUIRE(r.code == 0);
  CHECK(count(r.out, "[item ") == 5 + 5 * 5);
  CHECK(count(r.out, "\u2026 2 more items (2 spans;") == 5);   // inside each shown item
  CHECK(count(r.out, "\u2026 2 more items (18 spans;") == 1);  // the outer map
  CHECK(r.out.find("parent cycle") == std::string::npos);

  auto all = run_weft("trace show " + path + " --expand");
  REQUIRE(all.code == 0);
  CHECK(count(all.out, "[item ") == 7 + 7 * 7);
  CHECK(all.out.find("more items") == std::string::npos);
}
