// Shared steps of the commands that run flows: settings from file, env and
// flags; the flow; the run inputs from -i and --inputs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "flows/spec.hpp"
#include "actors/engine_internals.hpp"

namespace weft::cli {

/// Engine options from the settings file, then the environment, then flags.
/// Prints the errors and returns nullopt when a setting is bad.
std::optional<engine_options> make_engine_options(const run_common& o);

/// The engine from options a command adjusted; prints why it could not
/// start (a sink that did not open) and returns nullptr.
std::unique_ptr<engine> start_engine(engine_options opts);

/// The engine for a command: make_engine_options, then the engine itself
/// (whose sinks may fail to open). Prints the error and returns nullptr.
std::unique_ptr<engine> make_engine(const run_common& o);

/// Loads the flow, printing every diagnostic on failure.
std::shared_ptr<const flows::plan> load_flow(engine& eng, const std::string& path);

/// Builds the run inputs from --inputs then -i (which wins), converting each
/// -i text to the type `declared` gives it; `flow_name` names the flow in
/// errors. Prints the error and returns nullopt. Checks no required input:
/// who runs the flow does.
std::optional<flows::value_map> make_inputs(const std::string& flow_name,
                                            const std::vector<flows::input_decl>& declared,
                                            const run_common& o);

/// make_inputs for a loaded flow.
std::optional<flows::value_map> make_inputs(const flows::plan& flow, const run_common& o);

/// Installs SIGINT/SIGTERM handlers that set a flag instead of killing the
/// process, so a command can shut the engine down and flush its traces.
void install_signal_flag();
bool interrupted();

}  // namespace weft::cli
