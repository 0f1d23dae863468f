// Ctrl-C and SIGTERM for commands that must shut the engine down cleanly.
#pragma once

namespace weft::cli {

/// Installs SIGINT/SIGTERM handlers that set a flag instead of killing the
/// process, so a command can shut the engine down and flush its traces.
void install_signal_flag();
bool interrupted();

}  // namespace weft::cli
