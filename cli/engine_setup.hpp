// The engine and the flow for a command that runs flows: settings from the
// settings file, the environment and flags, in that order; the engine they
// make; the flow file, loaded with every diagnostic printed.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "actors/engine_internals.hpp"
#include "cli/commands.hpp"
#include "flows/spec.hpp"

namespace weft::cli {

/// Engine options from the settings file, then the environment, then flags.
/// Prints the errors and returns nullopt when a setting is bad.
std::optional<engine_options> make_engine_options(const run_common& o);

/// How long a command waits for its --workers to connect before it starts.
inline constexpr std::chrono::milliseconds cluster_wait{5000};

/// The engine from options a command adjusted; prints why it could not
/// start (a sink that did not open) and returns nullptr. With workers, it
/// waits up to cluster_wait for them and says so when some did not come.
std::unique_ptr<engine> start_engine(engine_options opts);

/// The engine for a command: make_engine_options, then the engine itself
/// (whose sinks may fail to open). Prints the error and returns nullptr.
std::unique_ptr<engine> make_engine(const run_common& o);

/// Loads the flow, printing every diagnostic on failure.
std::shared_ptr<const flows::plan> load_flow(engine& eng, const std::string& path);

}  // namespace weft::cli
