// The `loop` node (issue 9): `until` stops it, with the outputs and
// `iterations` of the last iteration; state is carried to the next
// iteration by name (outputs named like the child's inputs feed it, its
// other inputs keep their first values); reaching max_iterations without
// `until` holding fails the node naming max_iterations, or with
// on_limit: stop completes with the last outputs; without `until` it runs
// exactly max_iterations times; `until` sees `iteration`; a failing
// iteration fails the node naming it; and each iteration is a child run of
// its own, whose spans hang under the loop node's span in the one trace.
// Child flows are real files next to the parent, referenced as ./step.yaml.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <catch2/catch.hpp>

#include "support/engine_fixture.hpp"

using namespace weft;
using namespace weft::test;
namespace fs = std::filesystem;

namespace {

// A fresh folder for one test's flow files, removed at the end.
struct flow_dir {
  fs::path dir;
  flow_dir() {
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("weft-loop-" + std::to_string(getpid()) + "-" + std::to_string(n++));
    fs::create_directories(dir);
    dir = fs::canonical(dir);
  }
  ~flow_dir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
};

// One step: n goes up by one; `log` gets "n:k" appended, so the history
// shows what each iteration was given. `k` is no output (seen_k is, under
// another name), so it keeps its first value.
const char* const step_flow = R"(
flow: step
inputs: {n: {type: integer}, k: {type: integer}, log: {type: array}}
nodes:
  inc:
    type: lua
    params:
      outputs: [n, log, seen_k]
      script: |
        local l = inputs.log
        l[#l + 1] = inputs.n .. ":" .. inputs.k
        return {n = inputs.n + 1, log = l, seen_k = inputs.k * 10}
    inputs: {n: $inputs.n, k: $inputs.k, log: $inputs.log}
outputs: {n: inc.n, log: inc.log, seen_k: inc.seen_k}
)";

// The parent: a loop over ./step.yaml with the given extra params.
std::string parent_flow(const std::string& params) {
  return R"(
flow: outer
inputs: {n: {type: integer}, k: {type: integer}, log: {type: array, default: []}}
nodes:
  refine:
    type: loop
    params: {flow: ./step.yaml, )" +
         params + R"(}
    inputs: {n: $inputs.n, k: $inputs.k, log: $inputs.log}
outputs: {n: refine.n, log: refine.log, seen_k: refine.seen_k, iterations: refine.iterations}
)";
}

std::shared_ptr<const flows::plan> load_parent(engine& eng, const flow_dir& d,
                                               const std::string& params) {
  d.write("step.yaml", step_flow);
  auto path = d.write("outer.yaml", parent_flow(params));
  auto r = eng.load_file(path);
  std::string errs;
  for (auto& e : r.errors) errs += e.to_string() + "\n";
  INFO(errs);
  REQUIRE(r.flow);
  return r.flow.plan();
}

flows::value_map start(std::int64_t n, std::int64_t k) { return {{"n", n}, {"k", k}}; }

}  // namespace

TEST_CASE("loop: until stops the loop; outputs are the last iteration's plus iterations",
          "[control][loop]") {
  flow_dir d;
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = load_parent(eng, d, R"(max_iterations: 10, until: "outputs.n >= 3")");
  auto r = eng.run(flow, start(0, 7)).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("n") == 3);
  CHECK(r.outputs.at("iterations") == 3);
}

TEST_CASE(
    "loop: outputs named like the child's inputs feed the next iteration; the other "
    "inputs keep their first values",
    "[control][loop]") {
  flow_dir d;
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = load_parent(eng, d, "max_iterations: 3");
  auto r = eng.run(flow, start(5, 2)).get();
  INFO(r.error);
  REQUIRE(r.ok);
  // n and log are outputs and inputs: carried. k is no output: 2 throughout,
  // and seen_k (an output but no input) never replaces it.
  CHECK(r.outputs.at("log") == flows::value::array({"5:2", "6:2", "7:2"}));
  CHECK(r.outputs.at("n") == 8);
  CHECK(r.outputs.at("seen_k") == 20);
  CHECK(r.outputs.at("iterations") == 3);
}

TEST_CASE(
    "loop: reaching max_iterations without until holding fails the node, naming "
    "max_iterations; on_limit: stop takes the last outputs",
    "[control][loop]") {
  flow_dir d;
  engine eng(memory_options(std::make_shared<span_store>()));
  SECTION("fail (the default)") {
    auto flow = load_parent(eng, d, R"(max_iterations: 4, until: "outputs.n >= 100")");
    auto r = eng.run(flow, start(0, 1)).get();
    REQUIRE_FALSE(r.ok);
    CHECK(r.failed_node == "refine");
    CHECK_THAT(r.error, Catch::Contains("reached max_iterations (4)") &&
                            Catch::Contains("outputs.n >= 100") &&
                            Catch::Contains("on_limit: stop"));
  }
  SECTION("on_limit: fail, spelled out") {
    auto flow =
        load_parent(eng, d, R"(max_iterations: 2, until: "outputs.n >= 100", on_limit: fail)");
    auto r = eng.run(flow, start(0, 1)).get();
    REQUIRE_FALSE(r.ok);
    CHECK_THAT(r.error, Catch::Contains("reached max_iterations (2)"));
  }
  SECTION("on_limit: stop") {
    auto flow =
        load_parent(eng, d, R"(max_iterations: 4, until: "outputs.n >= 100", on_limit: stop)");
    auto r = eng.run(flow, start(0, 1)).get();
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.outputs.at("n") == 4);
    CHECK(r.outputs.at("log") == flows::value::array({"0:1", "1:1", "2:1", "3:1"}));
    CHECK(r.outputs.at("iterations") == 4);
  }
}

TEST_CASE("loop: without until it runs exactly max_iterations times", "[control][loop]") {
  flow_dir d;
  engine eng(memory_options(std::make_shared<span_store>()));
  for (int max : {1, 6}) {
    auto flow = load_parent(eng, d, "max_iterations: " + std::to_string(max));
    auto r = eng.run(flow, start(0, 0)).get();
    INFO(r.error);
    REQUIRE(r.ok);
    CHECK(r.outputs.at("iterations") == max);
    CHECK(r.outputs.at("n") == max);
    CHECK(r.outputs.at("log").size() == static_cast<std::size_t>(max));
  }
}

TEST_CASE("loop: until sees iteration (1-based)", "[control][loop]") {
  flow_dir d;
  engine eng(memory_options(std::make_shared<span_store>()));
  auto flow = load_parent(eng, d, R"(max_iterations: 10, until: "iteration == 2")");
  auto r = eng.run(flow, start(10, 0)).get();
  INFO(r.error);
  REQUIRE(r.ok);
  CHECK(r.outputs.at("iterations") == 2);
  CHECK(r.outputs.at("n") == 12);
}

TEST_CASE("loop: a failing iteration fails the node, naming the iteration", "[control][loop]") {
  flow_dir d;
  d.write("boom.yaml", R"(
flow: boom
inputs: {n: {type: integer}}
nodes:
  inc:
    type: lua
    params:
      outputs: [n]
      script: |
        if inputs.n == 3 then error("no threes here") end
        return {n = inputs.n + 1}
    inputs: {n: $inputs.n}
outputs: {n: inc.n}
)");
  auto path = d.write("outer.yaml", R"(
flow: outer
inputs: {n: {type: integer}}
nodes:
  refine:
    type: loop
    params: {flow: ./boom.yaml, max_iterations: 10}
    inputs: {n: $inputs.n}
outputs: {n: refine.n}
)");
  engine eng(memory_options(std::make_shared<span_store>()));
  auto l = eng.load_file(path);
  REQUIRE(l.flow);
  // Iteration 1 gets n = 0, so iteration 4 gets n = 3.
  auto r = eng.run(l.flow, {{"n", 0}}).get();
  REQUIRE_FALSE(r.ok);
  CHECK(r.failed_node == "refine");
  CHECK_THAT(r.error,
             Catch::Contains("loop: iteration 4 failed") && Catch::Contains("no threes here"));
}

TEST_CASE("loop: each iteration is its own child run under the loop node's span, in one trace",
          "[control][loop]") {
  flow_dir d;
  auto st = std::make_shared<span_store>();
  engine eng(memory_options(st));
  auto flow = load_parent(eng, d, R"(max_iterations: 10, until: "outputs.n >= 3")");
  run_options ro;
  ro.session_id = "sess-loop";
  ro.user_id = "user-loop";
  auto r = eng.run(flow, start(0, 1), ro).get();
  INFO(r.error);
  REQUIRE(r.ok);
  REQUIRE(r.outputs.at("iterations") == 3);
  eng.shutdown();

  const auto all = st->snapshot();
  auto spans = spans_of(all, r.trace_id);
  CHECK(spans.size() == all.size());  // nothing outside the run's trace
  // outer run + refine + 3 x (step run + inc).
  REQUIRE(spans.size() == 8);
  auto* top = find_span(spans, "outer");
  auto* node = find_span(spans, "refine");
  REQUIRE(top);
  REQUIRE(node);
  CHECK_FALSE(top->parent.valid());
  CHECK(node->parent == top->id);
  auto* count = node->find("weft.loop.iterations");
  REQUIRE(count);
  CHECK(std::get<std::int64_t>(*count) == 3);
  CHECK(str_attr(*top, "weft.run.id") == r.run_id);

  std::set<std::int64_t> iterations;
  std::set<std::string> run_ids;
  for (auto& s : spans) {
    INFO(s.name);
    CHECK(root_run_of(s) == r.run_id);
    CHECK(str_attr(s, "session.id") == "sess-loop");
    CHECK(str_attr(s, "user.id") == "user-loop");
    if (s.name != "step") continue;
    CHECK(s.parent == node->id);
    CHECK(str_attr(s, "weft.parent_run.id") == r.run_id);
    auto own = str_attr(s, "weft.run.id");
    CHECK(own != r.run_id);
    run_ids.insert(own);
    auto* it = s.find("weft.loop.iteration");
    REQUIRE(it);
    REQUIRE(std::holds_alternative<std::int64_t>(*it));
    iterations.insert(std::get<std::int64_t>(*it));
    // The iteration's node span hangs under it and belongs to its run.
    int children = 0;
    for (auto& c : spans)
      if (c.parent == s.id) {
        ++children;
        CHECK(c.name == "inc");
        CHECK(str_attr(c, "weft.run.id") == own);
      }
    CHECK(children == 1);
  }
  CHECK(iterations == std::set<std::int64_t>{1, 2, 3});
  CHECK(run_ids.size() == 3);
}
