// The Lua evaluator's cost per evaluation (issue 8: at most 5 µs for a
// one-line expression, the value conversion included).
//
//   ./build/weft_lua_bench [--rounds N] [--evals N]
//
// Each workload runs `rounds` times `evals` evaluations on one thread; the
// figure is the median round's time per evaluation. No engine, no actors:
// this is the evaluator that `lua` nodes and conditions call.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "components/lua_sandbox.hpp"

using namespace weft;
using components::lua_binding;
using components::lua_sandbox;

namespace {

double per_eval_ns(int rounds, int evals, const std::function<bool()>& one) {
  std::vector<double> ns;
  for (int r = 0; r < rounds; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < evals; ++i)
      if (!one()) {
        std::fprintf(stderr, "evaluation failed\n");
        std::exit(1);
      }
    auto dt = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0);
    ns.push_back(dt.count() / evals);
  }
  return bench::median(ns);
}

components::lua_script must_compile(const char* src, bool expression) {
  auto c = expression ? lua_sandbox::compile_expression(src, "bench")
                      : lua_sandbox::compile(src, "bench");
  if (!c.ok()) {
    std::fprintf(stderr, "compile: %s\n", c.error.c_str());
    std::exit(1);
  }
  return c.script;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7, evals = 200'000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--evals")) evals = std::atoi(argv[i + 1]);
  }
  flows::value_map inputs{{"score", 0.93}, {"name", "ada"}, {"n", 41}};
  const lua_binding in{"inputs", &inputs};
  const components::lua_limits limits;

  auto cond = must_compile("inputs.score > 0.8", true);
  auto expr = must_compile("inputs.n + 1", true);
  auto node = must_compile("return {value = inputs.name .. '!', n = inputs.n * 2}", false);
  const std::vector<std::string> outs{"value", "n"};
  auto global = must_compile("x = inputs.n; return x", false);

  struct row {
    const char* what;
    double ns;
  };
  std::vector<row> rows = {
      {"condition  inputs.score > 0.8      (test: bool)",
       per_eval_ns(rounds, evals,
                   [&] {
                     return lua_sandbox::test(cond, {&in, 1}, limits).ok();
                   })},
      {"expression inputs.n + 1            (evaluate: value)",
       per_eval_ns(rounds, evals,
                   [&] {
                     return lua_sandbox::evaluate(expr, {&in, 1}, limits).ok();
                   })},
      {"lua node   {value = name..'!', n = n*2} (2 outputs)",
       per_eval_ns(rounds, evals,
                   [&] {
                     return lua_sandbox::evaluate_outputs(node, {&in, 1}, limits, outs).ok();
                   })},
      {"script     x = inputs.n; return x  (sets a global)",
       per_eval_ns(rounds, evals,
                   [&] {
                     return lua_sandbox::evaluate(global, {&in, 1}, limits).ok();
                   })},
  };
  std::printf("medians over %d rounds of %d evaluations, one thread, 3 inputs each\n", rounds,
              evals);
  for (auto& r : rows) std::printf("%-58s %8.0f ns/eval\n", r.what, r.ns);
  std::printf("RSS %ld KiB\n", bench::rss_kib());
  return 0;
}
