#include "flows/inputs.hpp"

namespace weft::flows {

std::string type_name_of(const value& v) {
  switch (v.type()) {
    case value::value_t::number_integer:
    case value::value_t::number_unsigned:
      return "integer";
    case value::value_t::number_float:
      return "number";
    default:
      return v.type_name();
  }
}

std::vector<input_problem> check_inputs(const plan& flow, value_map& inputs,
                                        std::size_t max_depth) {
  std::vector<input_problem> problems;
  std::string known;  // built once, only when an unknown input needs it
  for (auto& [name, v] : inputs) {
    if (value_depth(v, max_depth + 1) > max_depth)
      problems.push_back({name, "input '" + name + "' nests arrays and objects deeper than " +
                                    std::to_string(max_depth) + " levels; flatten it"});
    if (flow.spec.find_input(name)) continue;
    if (known.empty()) {
      for (auto& d : flow.spec.inputs) known += (known.empty() ? "" : ", ") + d.name;
      if (known.empty()) known = "(no inputs)";
    }
    problems.push_back(
        {name, "unknown input '" + name + "'; flow '" + flow.name() + "' declares: " + known});
  }
  for (auto& d : flow.spec.inputs) {
    auto i = inputs.find(d.name);
    if (i == inputs.end()) {
      if (d.default_value) inputs.emplace(d.name, *d.default_value);
      else
        problems.push_back(
            {d.name, "missing required input '" + d.name + "' (" + to_string(d.type) + ")"});
    } else if (!matches(d.type, i->second)) {
      problems.push_back({d.name, "input '" + d.name + "': expected " + to_string(d.type) +
                                      ", got " + type_name_of(i->second)});
    }
  }
  return problems;
}

}  // namespace weft::flows
