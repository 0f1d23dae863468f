// The built-in components and embedder-registered ones, run on a real engine.
#include <chrono>
#include <thread>

#include "support/engine_fixture.hpp"

using namespace weft;
using weft::test::must_load;

namespace {

std::shared_ptr<test::span_store> store() { return std::make_shared<test::span_store>(); }

}  // namespace

TEST_CASE("template renders its inputs, passthrough passes them on", "[engine][components]") {
  engine eng(test::memory_options(store()));
  auto flow = must_load(eng, R"(
flow: greet
inputs:
  name: {type: string}
  punctuation: {type: string, default: "!"}
nodes:
  hello:
    type: template
    params: {template: "Hello, {{name}}{{punctuation}}"}
    inputs: {name: $inputs.name, punctuation: $inputs.punctuation}
  shout:
    type: passthrough
    inputs: {value: hello.text}
outputs:
  greeting: shout.value
)");
  auto r = eng.run(flow, {{"name", "World"}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("greeting") == "Hello, World!");
  auto r2 = eng.run(flow, {{"name", "Ada"}, {"punctuation", "?"}}).get();
  CHECK(r2.outputs.at("greeting") == "Hello, Ada?");
}

TEST_CASE("template sees objects, arrays and numbers", "[engine][components]") {
  engine eng(test::memory_options(store()));
  auto flow = must_load(eng, R"(
flow: t
inputs:
  user: {type: object}
  items: {type: array}
  n: {type: integer}
nodes:
  t:
    type: template
    params: {template: "{{user.name}}:{{#items}}[{{.}}]{{/items}}:{{n}}"}
    inputs: {user: $inputs.user, items: $inputs.items, n: $inputs.n}
outputs: {text: t.text}
)");
  auto r = eng.run(flow, {{"user", {{"name", "ada"}}}, {"items", {"a", "b"}}, {"n", 42}}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("text") == "ada:[a][b]:42");
}

TEST_CASE("const outputs its param, variadic sockets collect lists", "[engine][components]") {
  engine eng(test::memory_options(store()));
  engine_internals::components(eng).add(
      {"join",
       "joins strings",
       {{"items", true, true}},
       false,
       {"text"},
       {},
       false,
       [](const flows::node_spec&, const flows::component_services&,
          flows::diagnostics&) -> std::shared_ptr<const flows::component> {
         struct join final : flows::sync_component {
           flows::value_map run(const flows::value_map& in) const override {
             std::string out;
             for (auto& v : in.at("items")) out += v.get<std::string>();
             return {{"text", out}};
           }
         };
         return std::make_shared<join>();
       }});
  auto flow = must_load(eng, R"(
flow: c
nodes:
  a: {type: const, params: {value: "x"}}
  b: {type: const, params: {value: "y"}}
  c: {type: const, params: {value: {k: [1, 2]}}}
  j: {type: join, inputs: {items: [a.value, b.value, a.value]}}
outputs: {text: j.text, obj: c.value}
)");
  auto r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  CHECK(r.outputs.at("text") == "xyx");
  CHECK(r.outputs.at("obj") == flows::value::parse(R"({"k":[1,2]})"));
}

TEST_CASE("sleep waits without holding a scheduler thread", "[engine][components]") {
  // One scheduler thread and 200 runs each sleeping 100 ms: if sleep blocked
  // the thread they would take 20 s; parked as timers they take ~100 ms.
  engine eng(test::memory_options(store(), 1));
  auto flow = must_load(eng, R"(
flow: s
nodes:
  z: {type: sleep, params: {ms: 100}, inputs: {value: $inputs.v}}
inputs: {v: {type: integer}}
outputs: {v: z.value}
)");
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::future<run_result>> fs;
  for (int i = 0; i < 200; ++i) fs.push_back(eng.run(flow, {{"v", i}}));
  for (int i = 0; i < 200; ++i) {
    auto r = fs[static_cast<std::size_t>(i)].get();
    REQUIRE(r.ok);
    CHECK(r.outputs.at("v") == i);
    CHECK(r.duration_ms >= 99.0);
  }
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(secs < 5.0);
}

TEST_CASE("a blocking component runs on its own thread", "[engine][components]") {
  engine eng(test::memory_options(store(), 1));
  engine_internals::components(eng).add(
      {"block",
       "blocks its thread",
       {},
       false,
       {"value"},
       {},
       true,
       [](const flows::node_spec&, const flows::component_services&,
          flows::diagnostics&) -> std::shared_ptr<const flows::component> {
         struct block final : flows::sync_component {
           flows::value_map run(const flows::value_map&) const override {
             std::this_thread::sleep_for(std::chrono::milliseconds(300));
             return {{"value", "slept"}};
           }
         };
         return std::make_shared<block>();
       }});
  auto blocking = must_load(eng, "flow: b\nnodes: {x: {type: block}}\noutputs: {v: x.value}\n");
  auto quick = must_load(
      eng, "flow: q\nnodes: {x: {type: const, params: {value: 1}}}\noutputs: {v: x.value}\n");
  auto slow = eng.run(blocking, {});
  // With the only scheduler thread free, a quick run finishes long before the
  // blocking one does.
  auto r = eng.run(quick, {}).get();
  REQUIRE(r.ok);
  CHECK(slow.wait_for(std::chrono::milliseconds(0)) == std::future_status::timeout);
  CHECK(slow.get().outputs.at("v") == "slept");
}

TEST_CASE("independent branches run in parallel", "[engine][components]") {
  engine eng(test::memory_options(store()));
  auto flow = must_load(eng, R"(
flow: par
nodes:
  a: {type: sleep, params: {ms: 200}}
  b: {type: sleep, params: {ms: 200}}
  c: {type: sleep, params: {ms: 200}}
  j: {type: template, params: {template: "{{a}}{{b}}{{c}}"}, inputs: {a: a.value, b: b.value, c: c.value}}
outputs: {t: j.text}
)");
  auto r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  // Three 200 ms sleeps in parallel: well under the 600 ms a sequence takes.
  CHECK(r.duration_ms >= 199.0);
  CHECK(r.duration_ms < 500.0);
}
