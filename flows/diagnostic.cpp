#include "flows/diagnostic.hpp"

namespace weft::flows {

std::string diagnostic::to_string() const {
  return (loc.file.empty() ? std::string{"<string>"} : loc.file) + ":" + std::to_string(loc.line) +
         ":" + std::to_string(loc.col) + ": error: " + message;
}

diagnostic diagnostic_at(std::string file, int line, int col, std::string message) {
  diagnostic d;
  d.loc.file = std::move(file);
  d.loc.line = line;
  d.loc.col = col;
  d.message = std::move(message);
  return d;
}

}  // namespace weft::flows
