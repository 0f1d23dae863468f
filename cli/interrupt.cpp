// Ctrl-C and SIGTERM set a flag (cli/interrupt.hpp).
#include "cli/interrupt.hpp"

#include <csignal>

namespace weft::cli {

namespace {
volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_signal(int) { g_interrupted = 1; }
}  // namespace

void install_signal_flag() {
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_interrupted != 0; }

}  // namespace weft::cli
