#include "cli/load_summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace weft::cli {

namespace {

double runs_per_s(const load_totals& t) {
  return t.duration_s > 0 ? static_cast<double>(t.runs) / t.duration_s : 0;
}

double max_of(const std::vector<double>& sorted) { return sorted.empty() ? 0.0 : sorted.back(); }

}  // namespace

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto i = static_cast<std::size_t>(std::lround(p * static_cast<double>(sorted.size() - 1)));
  return sorted[std::min(i, sorted.size() - 1)];
}

flows::value summary_json(const load_totals& t) {
  const auto& lat = t.latency_ms;
  return {
      {"runs", t.runs},
      {"ok", t.ok},
      {"failed", t.failed},
      {"duration_s", t.duration_s},
      {"runs_per_s", runs_per_s(t)},
      {"latency_ms",
       {{"p50", percentile(lat, 0.50)},
        {"p90", percentile(lat, 0.90)},
        {"p99", percentile(lat, 0.99)},
        {"max", max_of(lat)}}},
  };
}

void print_summary_head(const load_totals& t) {
  const auto& lat = t.latency_ms;
  std::printf("runs %lld  ok %lld  failed %lld  in %.3f s  (%.0f runs/s)\n",
              static_cast<long long>(t.runs), static_cast<long long>(t.ok),
              static_cast<long long>(t.failed), t.duration_s, runs_per_s(t));
  std::printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n", percentile(lat, 0.5),
              percentile(lat, 0.9), percentile(lat, 0.99), max_of(lat));
}

void draw_progress(std::int64_t done, std::int64_t total) {
  constexpr int width = 30;
  int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r[%.*s%*s] %lld/%lld", filled, "##############################",
               width - filled, "", static_cast<long long>(done), static_cast<long long>(total));
  std::fflush(stderr);
}

}  // namespace weft::cli
