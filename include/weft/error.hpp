// Errors as values: what went wrong, and where.
//
// Loading a flow, checking a run's inputs and registering a component type
// return a list of these rather than a sentence, so that a caller can show
// each one beside the thing at fault (a line of a flow file, a field of a
// request) and decide by `code` what to do about it:
//
//   auto loaded = eng.load_file("flow.yaml");
//   for (const auto& e : loaded.errors)
//     std::cerr << e.to_string() << '\n';   // "flow.yaml:7:5: error: ..."
//
// Every field but `code` and `message` may be empty (or 0): an error names
// only the places it knows.
#pragma once

#include <string>
#include <vector>

#include "weft/api.hpp"

namespace weft {

/// What kind of problem it is.
enum class error_code {
  /// A flow file or text that does not parse or validate (file, line, column).
  invalid_flow,
  /// A run input that is missing, unknown, of the wrong type or too deep
  /// (`field` names the input).
  invalid_input,
  /// A component type that cannot be registered (`field` names what is wrong).
  invalid_component,
};

/// "invalid_flow", "invalid_input", "invalid_component".
WEFT_API const char* to_string(error_code code);

struct WEFT_API error {
  error_code code = error_code::invalid_flow;
  /// What is wrong, in words, with what to do about it where that is known.
  std::string message;
  /// The input, parameter or field at fault.
  std::string field;
  /// The file at fault and the place in it; line and column count from 1
  /// (0: unknown).
  std::string file;
  int line = 0;
  int column = 0;
  /// The node at fault, by id.
  std::string node;

  /// One line: "file:line:col: error: message" when the error has a place,
  /// as compilers print it (so that editors jump to it), else "input 'n':
  /// message" or the message alone.
  std::string to_string() const;
};

using errors = std::vector<error>;

}  // namespace weft
