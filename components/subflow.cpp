// The `flow` node type: runs another flow as a child run of the node.
//
//   sub: {type: flow, params: {flow: ./child.yaml}, inputs: {name: $inputs.name}}
//
// Its inputs are the child flow's declared inputs (checked at load, each
// problem at its line); its outputs are the child's declared outputs. The
// child run's spans nest under this node's span in the same trace; its
// nodes' events reach the observer as [sub, child node].
#include "components/child_flow.hpp"
#include "components/register.hpp"

namespace weft::components {
namespace {

using namespace flows;

class subflow_component final : public component, public declares_outputs {
 public:
  explicit subflow_component(std::shared_ptr<const plan> child) : child_(std::move(child)) {
    for (const auto& o : child_->spec.outputs) outputs_.push_back(o.name);
  }

  void start(node_context& ctx, value_map inputs) const override {
    child_run run;
    run.flow = child_;
    run.inputs = std::move(inputs);
    // The callback runs on this node's actor while it lives: `ctx` is safe.
    ctx.run_child(std::move(run), [&ctx, name = child_->name()](child_result r) {
      if (r.ok) ctx.complete(std::move(r.outputs));
      else ctx.fail("flow '" + name + "': " + r.error, "flow.child");
    });
  }

  const std::vector<std::string>& output_names() const override { return outputs_; }

 private:
  std::shared_ptr<const plan> child_;
  std::vector<std::string> outputs_;
};

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  auto child = child_flow(n, svc, errs);
  if (!child) return nullptr;
  if (!check_child_inputs(n, *child, {}, {}, errs)) return nullptr;
  return std::make_shared<subflow_component>(std::move(child));
}

}  // namespace

void register_subflow(flows::registry& reg) {
  component_descriptor d;
  d.type = "flow";
  d.summary = "Runs another flow (a path, a flow name or an inline flow) as a child run.";
  d.open_inputs = true;
  d.params = {{"flow", value_type::any, true}};
  d.make = make;
  d.runs_children = true;
  d.outputs_of = [](const node_spec&) -> std::optional<std::vector<std::string>> {
    return std::nullopt;
  };
  reg.add(std::move(d));
}

}  // namespace weft::components
