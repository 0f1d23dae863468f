// The `join` node type: the meeting point of alternative branches.
//
//   reply: {type: join, inputs: {values: [escalate.text, answer.value]}}
//
// `values` is variadic and collects only what was produced (a branch behind
// an untaken route is skipped, not null). Outputs: `value`, the first
// produced value in list order, and `values`, all of them in list order.
#include "components/register.hpp"

namespace weft::components {
namespace {

using namespace flows;

class join_component final : public sync_component {
 public:
  value_map run(const value_map& inputs) const override {
    value values = inputs.at("values");
    value first = values.empty() ? value() : values.front();
    return {{"value", std::move(first)}, {"values", std::move(values)}};
  }
};

}  // namespace

void register_join(flows::registry& reg) {
  component_descriptor d;
  d.type = "join";
  d.summary = "The first produced of `values` (variadic), and all that were produced.";
  d.inputs = {{"values", true, true}};
  d.outputs = {"value", "values"};
  d.make = [](const node_spec&, const component_services&,
              diagnostics&) -> std::shared_ptr<const component> {
    return std::make_shared<join_component>();
  };
  reg.add(std::move(d));
}

}  // namespace weft::components
