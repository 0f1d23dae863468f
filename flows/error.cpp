// weft/error.hpp, and the loader's diagnostics as public errors.
#include "weft/error.hpp"

#include "flows/diagnostic.hpp"

namespace weft {

const char* to_string(error_code code) {
  switch (code) {
    case error_code::invalid_flow:
      return "invalid_flow";
    case error_code::invalid_input:
      return "invalid_input";
    case error_code::invalid_component:
      return "invalid_component";
  }
  return "unknown";
}

std::string error::to_string() const {
  if (!file.empty() || line > 0)
    return (file.empty() ? std::string{"<string>"} : file) + ":" + std::to_string(line) + ":" +
           std::to_string(column) + ": error: " + message;
  return message;
}

}  // namespace weft

namespace weft::flows {

std::vector<weft::error> to_errors(const diagnostics& diags) {
  std::vector<weft::error> out;
  out.reserve(diags.size());
  for (const auto& d : diags) {
    weft::error e;
    e.code = error_code::invalid_flow;
    e.message = d.message;
    e.file = d.loc.file;
    e.line = d.loc.line;
    e.column = d.loc.col;
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace weft::flows
