// The trace audit over nested runs: child runs (sub-flows, map items, loop
// iterations) in the top-level run's trace, on synthetic span sets broken
// one way at a time.
#include <algorithm>

#include <catch2/catch.hpp>

#include "support/nested_trace.hpp"
#include "tracing/audit.hpp"

using weft::test::nested_trace;
using weft::tracing::audit_expectation;
using weft::tracing::audit_report;
using weft::tracing::audit_traces;
using weft::tracing::span_id;
using weft::tracing::trace_id;

namespace {

const trace_id the_trace = *trace_id::from_hex("4bf92f3577b34da6a3ce929d0e0e4736");

// flow outer -> map (3 items) -> flow node -> sub-flow -> loop (2
// iterations) -> template: four levels of runs, 1 + 3 * (2 + 2 + 2 * 2) + 1 spans.
struct four_levels {
  nested_trace t{the_trace};
  std::size_t top, fan, last_node;
  std::vector<std::size_t> items, subs, sub_roots;

  explicit four_levels(span_id remote = {}) {
    top = t.top("outer", "R", remote);
    fan = t.node(top, "fan", "map");
    for (int i = 0; i < 3; ++i) {
      auto run = "R." + std::to_string(i);
      items.push_back(t.child_run(fan, "item_flow", run, "weft.map.index", i));
      subs.push_back(t.node(items.back(), "sub", "flow"));
      sub_roots.push_back(t.child_run(subs.back(), "inner", run + ".s"));
      auto loop = t.node(sub_roots.back(), "again", "loop");
      for (int k = 0; k < 2; ++k) {
        auto it =
            t.child_run(loop, "body", run + ".s.l" + std::to_string(k), "weft.loop.iteration", k);
        t.node(it, "step", "template");
      }
    }
    last_node = t.node(top, "done", "passthrough");
  }
};

audit_expectation expect(std::size_t spans = 0, span_id remote = {}) {
  audit_expectation e;
  e.trace = the_trace;
  e.remote_parent = remote;
  e.run_id = "R";
  e.session_id = "s1";
  e.user_id = "u1";
  e.expected_spans = spans;
  return e;
}

std::string all(const audit_report& r) {
  std::string out;
  for (auto& p : r.problems) out += p + "\n";
  return out;
}

}  // namespace

TEST_CASE("audit: a correct 4-level nested trace passes", "[tracing][audit][nested]") {
  four_levels f;
  REQUIRE(f.t.spans.size() == 1 + 1 + 3 * 8 + 1);
  auto rep = audit_traces(f.t.spans, {expect(f.t.spans.size())});
  INFO(all(rep));
  CHECK(rep.ok());
  CHECK(rep.traces == 1);
  CHECK(rep.spans == f.t.spans.size());

  // The same under a caller's span, and in any order.
  auto remote = span_id::random();
  four_levels g(remote);
  std::reverse(g.t.spans.begin(), g.t.spans.end());
  rep = audit_traces(g.t.spans, {expect(0, remote)});
  INFO(all(rep));
  CHECK(rep.ok());

  // Without an expected run id the root's is used.
  auto e = expect();
  e.run_id.clear();
  CHECK(audit_traces(f.t.spans, {e}).ok());
}

TEST_CASE("audit: a 16-level chain of child runs passes; a 100,000-deep one does not recurse",
          "[tracing][audit][nested]") {
  nested_trace t(the_trace);
  auto at = t.top("f0", "R");
  for (int level = 1; level < 16; ++level) {
    auto node = t.node(at, "n" + std::to_string(level), "flow");
    at = t.child_run(node, "f" + std::to_string(level), "R/" + std::to_string(level));
  }
  CHECK(audit_traces(t.spans, {expect(t.spans.size())}).ok());

  // A hostile file: one chain of nodes, each under the last.
  nested_trace deep(the_trace);
  auto d = deep.top("f", "R");
  for (int i = 0; i < 100'000; ++i) d = deep.node(d, "n", "core");
  CHECK(audit_traces(deep.spans, {expect(deep.spans.size())}).ok());
}

TEST_CASE("audit: a child run's root under another run's node fails", "[tracing][audit][nested]") {
  four_levels f;
  // Item 1's sub-flow hangs from item 0's `sub` node, still naming item 1's
  // run as its parent run.
  f.t.spans[f.sub_roots[1]].parent = f.t.spans[f.subs[0]].id;
  auto rep = audit_traces(f.t.spans, {expect(f.t.spans.size())});
  INFO(all(rep));
  REQUIRE(rep.problem_count == 1);
  CHECK_THAT(rep.problems[0], Catch::Contains("span 'inner'"));
  CHECK_THAT(rep.problems[0], Catch::Contains("of run 'R.1.s'"));
  CHECK_THAT(rep.problems[0], Catch::Contains("is a child run of run 'R.1', but its parent node "
                                              "span 'sub'"));
  CHECK_THAT(rep.problems[0], Catch::Contains("is in run 'R.0'"));

  // Under a span that is no node: the item's run span itself.
  four_levels g;
  g.t.spans[g.sub_roots[2]].parent = g.t.spans[g.items[2]].id;
  rep = audit_traces(g.t.spans, {expect()});
  INFO(all(rep));
  REQUIRE(rep.problem_count == 1);
  CHECK_THAT(rep.problems[0], Catch::Contains("but its parent span 'item_flow'"));
  CHECK_THAT(rep.problems[0], Catch::Contains("is neither a node span nor a span a node opened"));
}

TEST_CASE("audit: a child run's root without weft.parent_run.id fails",
          "[tracing][audit][nested]") {
  four_levels f;
  f.t.drop(f.items[0], "weft.parent_run.id");
  auto rep = audit_traces(f.t.spans, {expect()});
  INFO(all(rep));
  REQUIRE(rep.problem_count == 1);
  CHECK_THAT(rep.problems[0], Catch::Contains("span 'item_flow'"));
  CHECK_THAT(rep.problems[0],
             Catch::Contains("has no weft.parent_run.id, yet its parent span 'fan'"));
}

TEST_CASE("audit: two child runs with one id, or a child with its parent's id, fail",
          "[tracing][audit][nested]") {
  four_levels f;
  f.t.set(f.items[1], "weft.run.id", "R.0");
  // Its node `sub` stays in run R.1: reported too.
  auto rep = audit_traces(f.t.spans, {expect()});
  INFO(all(rep));
  CHECK_THAT(all(rep), Catch::Contains("run 'R.0' has 2 root spans"));

  four_levels g;
  g.t.set(g.items[2], "weft.run.id", "R");
  rep = audit_traces(g.t.spans, {expect()});
  INFO(all(rep));
  CHECK_THAT(all(rep), Catch::Contains("a child run's root with the id of its parent run"));
  CHECK_THAT(all(rep), Catch::Contains("run 'R' has 2 root spans"));
}

TEST_CASE("audit: a span of another top-level run fails", "[tracing][audit][nested]") {
  four_levels f;
  // Deep down, a loop body's node claims another top-level run.
  auto victim = f.t.spans.size() - 2;
  f.t.set(victim, "weft.root_run.id", "OTHER");
  auto rep = audit_traces(f.t.spans, {expect(f.t.spans.size())});
  INFO(all(rep));
  REQUIRE(rep.problem_count == 1);
  CHECK_THAT(rep.problems[0], Catch::Contains("span 'step'"));
  CHECK_THAT(rep.problems[0], Catch::Contains("of run 'R.2.s.l1'"));
  CHECK_THAT(rep.problems[0], Catch::Contains("belongs to top-level run 'OTHER', expected 'R'"));

  // A whole other top-level run's spans in this trace: a second root, and
  // each of its spans named.
  four_levels g;
  nested_trace other(the_trace);
  auto o = other.top("outer", "Q");
  other.node(o, "fan", "map");
  for (auto& s : other.spans) s.id.value += 1'000'000;
  other.spans[1].parent.value += 1'000'000;
  g.t.spans.insert(g.t.spans.end(), other.spans.begin(), other.spans.end());
  rep = audit_traces(g.t.spans, {expect()});
  INFO(all(rep));
  CHECK(rep.problem_count == 3);
  CHECK_THAT(all(rep), Catch::Contains("2 root spans, expected exactly 1"));
  CHECK_THAT(all(rep), Catch::Contains("belongs to top-level run 'Q', expected 'R'"));
}

TEST_CASE("audit: a missing session or user fails, naming the span and run",
          "[tracing][audit][nested]") {
  four_levels f;
  f.t.drop(f.sub_roots[0], "session.id");
  f.t.drop(f.last_node, "user.id");
  auto rep = audit_traces(f.t.spans, {expect()});
  INFO(all(rep));
  REQUIRE(rep.problem_count == 2);
  CHECK_THAT(all(rep), Catch::Contains("span 'inner' (0000000000000005) of run 'R.0.s': "
                                       "session.id is '', expected 's1'"));
  CHECK_THAT(all(rep), Catch::Contains("span 'done'"));
  CHECK_THAT(all(rep), Catch::Contains("user.id is '', expected 'u1'"));
}

TEST_CASE("audit: spans without weft.root_run.id (before child runs) still pass",
          "[tracing][audit][nested]") {
  nested_trace t(the_trace);
  auto top = t.top("greet", "R");
  t.node(top, "hello", "template");
  t.node(top, "shout", "passthrough");
  for (std::size_t i = 0; i < t.spans.size(); ++i) t.drop(i, "weft.root_run.id");
  auto rep = audit_traces(t.spans, {expect(3)});
  INFO(all(rep));
  CHECK(rep.ok());

  // Their run id still has to be the run's.
  t.set(2, "weft.run.id", "Q");
  rep = audit_traces(t.spans, {expect(3)});
  CHECK_THAT(all(rep), Catch::Contains("belongs to top-level run 'Q', expected 'R'"));
}

TEST_CASE("audit: counts, roots and cycles", "[tracing][audit][nested]") {
  four_levels f;
  CHECK_THAT(all(audit_traces(f.t.spans, {expect(5)})), Catch::Contains("27 spans, expected 5"));

  // The root is a node span: the run's own span is missing.
  nested_trace t(the_trace);
  auto top = t.top("outer", "R");
  t.node(top, "fan", "map");
  t.spans.erase(t.spans.begin());
  t.spans[0].parent = {};
  auto rep = audit_traces(t.spans, {expect()});
  INFO(all(rep));
  CHECK_THAT(all(rep), Catch::Contains("span 'fan' (0000000000000002) of run 'R' is the root, "
                                       "but it is a node span"));

  // Two spans that are each other's parent, under a good root.
  four_levels g;
  auto a = g.items[0], b = g.subs[0];
  g.t.spans[a].parent = g.t.spans[b].id;
  rep = audit_traces(g.t.spans, {expect()});
  INFO(all(rep));
  CHECK_THAT(all(rep), Catch::Contains("8 spans are in or below a parent cycle"));
}

TEST_CASE("audit: a minimum span count catches a trace that lost its far side",
          "[tracing][audit][nested]") {
  four_levels f;
  auto e = expect();
  e.min_spans = f.t.spans.size();
  CHECK(audit_traces(f.t.spans, {e}).ok());
  // Only the root arrived (a front's dispatch span without the worker's
  // spans): with a minimum it is a problem, without one it is not.
  std::vector<weft::tracing::span_record> root_only{f.t.spans[f.top]};
  CHECK(audit_traces(root_only, {expect()}).ok());
  e.min_spans = 2;
  auto rep = audit_traces(root_only, {e});
  CHECK_FALSE(rep.ok());
  CHECK(all(rep).find("1 spans, expected at least 2") != std::string::npos);
}
