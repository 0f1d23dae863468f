// Errors in flow files, with the place they point at.
//
// Every problem found while loading a flow becomes one diagnostic, and the
// loader keeps going, so a user sees every error of a file in one pass.
#pragma once

#include <string>
#include <vector>

#include "weft/error.hpp"

namespace weft::flows {

/// A position in a source file; line and column count from 1 (0 = unknown).
struct source_loc {
  std::string file;
  int line = 0;
  int col = 0;
};

struct diagnostic {
  source_loc loc;
  std::string message;

  /// "file:line:col: error: message", as compilers print them.
  std::string to_string() const;
};

using diagnostics = std::vector<diagnostic>;

/// The same problems as public errors (weft/error.hpp, code invalid_flow).
std::vector<weft::error> to_errors(const diagnostics& diags);

}  // namespace weft::flows
