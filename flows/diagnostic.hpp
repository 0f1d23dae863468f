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

/// A diagnostic at `file`:`line`:`col` (0: unknown). Built out of line on
/// purpose: GCC 12 at -O3 reports a brace-initialised diagnostic's strings
/// as maybe-uninitialized where it inlines them, a false positive.
diagnostic diagnostic_at(std::string file, int line, int col, std::string message);

/// The same problems as public errors (weft/error.hpp, code invalid_flow).
std::vector<weft::error> to_errors(const diagnostics& diags);

}  // namespace weft::flows
