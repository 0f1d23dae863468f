// The engine and the flow for a command (cli/engine_setup.hpp).
#include "cli/engine_setup.hpp"

#include <cstdlib>
#include <iostream>
#include <sstream>

namespace weft::cli {

std::optional<engine_options> make_engine_options(const run_common& o) {
  engine_options opts;
  std::vector<std::string> errors;
  if (!o.config_file.empty()) config::apply_file(opts.settings, o.config_file, errors);
  config::apply_env(opts.settings, errors);
  if (!o.trace_file.empty()) opts.settings.tracing.trace_file = o.trace_file;
  if (const char* key = std::getenv("WEFT_CLUSTER_KEY")) opts.cluster_key = key;
  opts.cluster_tls = cluster_tls_files::from_env();
  std::stringstream workers(o.workers);
  for (std::string w; std::getline(workers, w, ',');)
    if (!w.empty()) opts.workers.push_back(w);
  opts.local_fallback = !o.no_local_fallback;
  opts.retry_lost_runs = o.retry_lost_runs;
  for (auto& e : errors) std::cerr << "weft: error: " << e << '\n';
  if (!errors.empty()) return std::nullopt;
  return opts;
}

std::unique_ptr<engine> start_engine(engine_options opts) {
  const auto workers = opts.workers.size();
  const bool fallback = opts.local_fallback;
  std::unique_ptr<engine> eng;
  try {
    eng = std::make_unique<engine>(std::move(opts));
  } catch (const std::exception& e) {
    std::cerr << "weft: error: " << e.what() << '\n';
    return nullptr;
  }
  // Runs started before the workers answer would find none and run here
  // (or fail): give the connections a moment, then go with those that came.
  if (workers > 0 && !eng->wait_for_workers(0, cluster_wait))
    std::cerr << "weft: cluster: not every worker answered within "
              << std::chrono::duration_cast<std::chrono::seconds>(cluster_wait).count()
              << " s; runs go to those that did"
              << (fallback ? ", or run here when none can take them" : "")
              << " (the lines above say why)\n";
  return eng;
}

std::unique_ptr<engine> make_engine(const run_common& o) {
  auto opts = make_engine_options(o);
  if (!opts) return nullptr;
  return start_engine(std::move(*opts));
}

std::shared_ptr<const flows::plan> load_flow(engine& eng, const std::string& path) {
  auto r = eng.load_file(path);
  for (auto& d : r.errors) std::cerr << d.to_string() << '\n';
  return r.flow.plan();
}

}  // namespace weft::cli
