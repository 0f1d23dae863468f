// The parts of `weft load`'s summary that the in-process and the --url
// variants print alike (load_command.cpp, load_url_command.cpp), so that
// scripts read both the same way.
#pragma once

#include <cstdint>
#include <vector>

#include "flows/value.hpp"

namespace weft::cli {

/// The counts and latencies every load summary starts with.
struct load_totals {
  std::int64_t runs = 0;
  std::int64_t ok = 0;
  std::int64_t failed = 0;
  double duration_s = 0;
  std::vector<double> latency_ms;  // one per run, sorted
};

/// The nearest-rank value at fraction `p` of `sorted`; 0 when it is empty.
double percentile(const std::vector<double>& sorted, double p);

/// The JSON summary's runs, ok, failed, duration_s, runs_per_s and
/// latency_ms; the command adds the rest.
flows::value summary_json(const load_totals& t);

/// The text summary's first two lines: counts and rate, then latencies.
void print_summary_head(const load_totals& t);

/// Redraws the progress bar on stderr.
void draw_progress(std::int64_t done, std::int64_t total);

}  // namespace weft::cli
