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
  try {
    return std::make_unique<engine>(std::move(opts));
  } catch (const std::exception& e) {
    std::cerr << "weft: error: " << e.what() << '\n';
    return nullptr;
  }
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
