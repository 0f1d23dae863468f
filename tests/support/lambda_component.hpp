// A component type whose start is a lambda, for runtime tests that need a
// component doing one particular thing with its node context.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "actors/engine_internals.hpp"
#include "weft/component.hpp"

namespace weft::test {

using start_fn = std::function<void(node_context&, value_map)>;

/// Registers `type`: one optional input socket and one output, both `value`.
inline void add_type(engine& eng, const std::string& type, start_fn fn) {
  struct lambda_component final : component {
    start_fn fn;
    void start(node_context& ctx, value_map in) const override { fn(ctx, std::move(in)); }
  };
  auto c = std::make_shared<lambda_component>();
  c->fn = std::move(fn);
  engine_internals::components(eng).add(
      {type,
       "test component",
       {{"value", false, false}},
       false,
       {"value"},
       {},
       false,
       [c](const flows::node_spec&, const flows::component_services&,
           flows::diagnostics&) -> std::shared_ptr<const flows::component> { return c; }});
}

/// A flow `f` of one node `n` of `type`, fed $inputs.x (default 1), output y.
inline std::string one_node_flow(const std::string& type, int timeout_ms = 0) {
  return "flow: f\ninputs: {x: {type: any, default: 1}}\nnodes:\n  n: {type: " + type +
         (timeout_ms ? ", timeout_ms: " + std::to_string(timeout_ms) : std::string()) +
         ", inputs: {value: $inputs.x}}\noutputs: {y: n.value}\n";
}

}  // namespace weft::test
