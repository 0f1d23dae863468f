// Checking a run's inputs against its flow's declarations, and applying the
// declared defaults: for top-level runs (engine::check_inputs) and for the
// child runs that composites start (node_context::run_child) alike.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "flows/plan.hpp"

namespace weft::flows {

/// One thing wrong with a run's inputs: the input at fault (empty when the
/// problem is not about one input) and what is wrong, in words.
struct input_problem {
  std::string input;
  std::string message;
};

/// Checks `inputs` against `flow`'s declared inputs (unknown names, missing
/// required ones, types, nesting deeper than `max_depth`) and adds the
/// defaults of absent ones. Empty when all is well.
std::vector<input_problem> check_inputs(const plan& flow, value_map& inputs, std::size_t max_depth);

/// "integer", "number", "string", ...: a value's type in the words of flow
/// declarations, for messages.
std::string type_name_of(const value& v);

}  // namespace weft::flows
