// What /proc says about a process: its resident memory, for the tests and
// benchmarks that check that memory stays bounded or flat.
#pragma once

#include <sys/types.h>

#include <fstream>
#include <string>

namespace weft::test {

/// VmRSS of process `pid` in KiB (0 when it cannot be read).
inline long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

}  // namespace weft::test
