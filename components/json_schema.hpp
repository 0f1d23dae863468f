// JSON Schema validation for structured LLM output (`response_format`),
// through valijson (Debian's libvalijson-dev): drafts 3, 4 and 7 keywords,
// local `$ref`s; a `$ref` to another document is an error at load, since
// weft fetches nothing at run time.
//
// A schema is parsed once, when the flow loads, and shared by every run of
// the node; validating creates its own validator, so runs on different
// threads never share mutable state.
#pragma once

#include <memory>
#include <string>

#include "weft/value.hpp"

namespace valijson {
class Schema;
}

namespace weft::components {

class json_schema {
 public:
  /// Parses `schema`. Null, with `error` set to what is wrong with it, when
  /// valijson rejects it.
  static std::shared_ptr<const json_schema> compile(const value& schema, std::string& error);
  ~json_schema();

  /// Empty when `v` is valid; otherwise the problems, "at <path>: <what>",
  /// joined by "; ", at most `max_problems` of them.
  std::string validate(const value& v, std::size_t max_problems = 5) const;

 private:
  json_schema();
  std::unique_ptr<valijson::Schema> schema_;
};

}  // namespace weft::components
