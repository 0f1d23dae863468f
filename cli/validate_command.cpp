// `weft validate FLOW...`: every error of every file, exit 2 if any.
#include <iostream>

#include "cli/commands.hpp"
#include "components/register.hpp"
#include "flows/catalog.hpp"

namespace weft::cli {

int validate_command(const std::vector<std::string>& files) {
  // The same types as an engine has: `weft validate` must accept what `weft run` runs.
  flows::registry reg;
  components::register_all(reg);
  int bad = 0;
  for (auto& f : files) {
    flows::diagnostics errs;
    // A loader per file: it follows the file's references to other flows
    // (sub-flows, map and loop bodies) and validates them too.
    flows::flow_loader loader(reg, flows::component_services{});
    auto plan = loader.load_file(f, errs);
    for (auto& d : errs) std::cerr << d.to_string() << '\n';
    if (plan)
      std::cout << f << ": ok (flow '" << plan->name() << "', " << plan->nodes.size()
                << " nodes)\n";
    else ++bad;
  }
  if (bad) std::cerr << bad << " of " << files.size() << " file(s) invalid\n";
  return bad ? exit_usage : exit_ok;
}

}  // namespace weft::cli
