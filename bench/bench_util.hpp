// Small helpers the benchmarks share: the chain10 workload, medians, RSS.
#pragma once

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace weft::bench {

/// Ten passthrough nodes in a line (examples/chain10.yaml, inline).
inline std::string chain10() {
  std::string f = "flow: chain10\ninputs: {value: {type: any}}\nnodes:\n";
  std::string prev = "$inputs.value";
  for (int i = 1; i <= 10; ++i) {
    f += "  n" + std::to_string(i) + ": {type: passthrough, inputs: {value: " + prev + "}}\n";
    prev = "n" + std::to_string(i) + ".value";
  }
  return f + "outputs: {value: " + prev + "}\n";
}

/// Runs `cmd` through the shell; what it wrote to stdout.
inline std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

/// Resident set size of this process, in KiB.
inline long rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return 0;
}

}  // namespace weft::bench
