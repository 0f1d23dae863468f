#include "flows/diagnostic.hpp"

namespace weft::flows {

std::string diagnostic::to_string() const {
  return (loc.file.empty() ? std::string{"<string>"} : loc.file) + ":" + std::to_string(loc.line) +
         ":" + std::to_string(loc.col) + ": error: " + message;
}

}  // namespace weft::flows
