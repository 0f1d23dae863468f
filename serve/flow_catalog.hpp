// The flows a server serves: every *.yaml, *.yml and *.json file of one
// folder, loaded once at start and never changed while serving (so request
// threads read it without locks).
//
// A flow is served under its `flow:` name. Loading stops at the first bad
// folder: every diagnostic of every file is returned, as `weft validate`
// prints them, and two files that declare the same name are an error too.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "actors/engine_internals.hpp"

namespace weft::serve {

class flow_catalog {
 public:
  /// Loads every flow file in `dir` (not recursive), in name order. On any
  /// error returns false and fills `errors` with lines "file:line:col: error: ...".
  bool load_dir(engine& eng, const std::string& dir, std::vector<std::string>& errors);
  /// Adds one loaded flow (tests and embedders); false if the name is taken.
  bool add(std::shared_ptr<const flows::plan> flow);

  /// The flow with this name, or nullptr.
  std::shared_ptr<const flows::plan> find(const std::string& name) const;
  const std::map<std::string, std::shared_ptr<const flows::plan>>& all() const { return flows_; }
  std::size_t size() const { return flows_.size(); }

  /// The description served by GET /v1/flows/{flow}:
  /// {"name", "description", "file", "inputs": [{"name", "type", "required", "default"?}],
  ///  "outputs": [{"name", "from"}], "nodes": N, "fixed_shape": bool}
  static flows::value describe(const flows::plan& flow);

 private:
  std::map<std::string, std::shared_ptr<const flows::plan>> flows_;
};

}  // namespace weft::serve
