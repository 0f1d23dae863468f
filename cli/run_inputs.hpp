// A command's run inputs: --inputs (a JSON object or @file) then -i
// NAME=VALUE, each -i text converted to the type the flow declares.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "flows/plan.hpp"
#include "flows/spec.hpp"

namespace weft::cli {

/// Builds the run inputs from --inputs then -i (which wins), converting each
/// -i text to the type `declared` gives it; `flow_name` names the flow in
/// errors. Prints the error and returns nullopt. Checks no required input:
/// who runs the flow does.
std::optional<flows::value_map> make_inputs(const std::string& flow_name,
                                            const std::vector<flows::input_decl>& declared,
                                            const run_common& o);

/// make_inputs for a loaded flow.
std::optional<flows::value_map> make_inputs(const flows::plan& flow, const run_common& o);

}  // namespace weft::cli
