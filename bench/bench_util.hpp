// Small helpers the benchmarks share: the chain10 workload, medians, RSS.
#pragma once

#include <algorithm>
#include <cmath>
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

/// The p-th quantile (0..1) of sorted values, nearest rank; 0 when empty.
inline double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(std::lround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(i, sorted.size() - 1)];
}

/// The same of unsorted values.
inline double percentile_of(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return percentile(v, p);
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
