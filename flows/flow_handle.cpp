// weft/flow.hpp: what a loaded flow declares, read from its plan.
#include "weft/flow.hpp"

#include "flows/plan.hpp"

namespace weft {

namespace {
const std::string& empty_text() {
  static const std::string none;
  return none;
}
}  // namespace

const std::string& flow::name() const { return plan_ ? plan_->spec.name : empty_text(); }

const std::string& flow::description() const {
  return plan_ ? plan_->spec.description : empty_text();
}

const std::string& flow::source() const { return plan_ ? plan_->spec.file : empty_text(); }

const std::string& flow::content_hash() const {
  return plan_ ? plan_->spec.content_hash : empty_text();
}

std::vector<flow_input> flow::inputs() const {
  std::vector<flow_input> out;
  if (!plan_) return out;
  for (const auto& d : plan_->spec.inputs) {
    flow_input in;
    in.name = d.name;
    in.type = flows::to_string(d.type);
    in.required = !d.default_value.has_value();
    if (d.default_value) in.default_json = d.default_value->dump();
    out.push_back(std::move(in));
  }
  return out;
}

std::vector<std::string> flow::outputs() const {
  std::vector<std::string> out;
  if (plan_)
    for (const auto& o : plan_->spec.outputs) out.push_back(o.name);
  return out;
}

std::vector<std::string> flow::nodes() const {
  std::vector<std::string> out;
  if (plan_)
    for (const auto& n : plan_->spec.nodes) out.push_back(n.id);
  return out;
}

}  // namespace weft
