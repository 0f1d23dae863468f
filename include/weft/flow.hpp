// A loaded flow: a handle to a validated, compiled graph of components.
//
//   weft::load_result loaded = eng.load_file("examples/hello.yaml");
//   if (!loaded) { for (auto& e : loaded.errors) std::cerr << e.to_string() << '\n'; return 1; }
//   const weft::flow& f = loaded.flow;
//   for (const auto& in : f.inputs()) std::cout << in.name << ": " << in.type << '\n';
//
// A flow is immutable once loaded and cheap to copy (copies share it), so
// one flow serves any number of concurrent runs, from any thread. It stays
// valid as long as a copy of it does, even after the engine that loaded it
// has shut down (it can then no longer run).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "weft/api.hpp"
#include "weft/error.hpp"

namespace weft {

namespace flows {
struct plan;  // the engine's compiled form; internal
}

/// An input the flow declares.
struct flow_input {
  std::string name;
  /// "string", "number", "integer", "boolean", "object", "array" or "any".
  std::string type;
  /// False when the flow gives a default: a run may leave it out.
  bool required = true;
  /// The default as JSON text ("" when required).
  std::string default_json;
};

class WEFT_API flow {
 public:
  flow() = default;
  /// Wraps a compiled plan (what weft's own layers hold). Implicit, so that
  /// they can pass a plan wherever a flow is taken.
  flow(std::shared_ptr<const flows::plan> plan) : plan_(std::move(plan)) {}

  /// False for an empty handle (a flow that did not load).
  explicit operator bool() const { return plan_ != nullptr; }

  /// The flow's `name` (or its file's stem when it has none).
  const std::string& name() const;
  /// The flow's `description`, often empty.
  const std::string& description() const;
  /// Where it was loaded from: a path, or the name given to load_string.
  const std::string& source() const;
  /// 16 hex digits that change whenever the flow's text does, or the text
  /// of a flow it runs (a sub-flow, a map or loop body, an agent's tool): a
  /// front and its workers compare it to be sure they run the same version.
  const std::string& content_hash() const;
  /// The inputs a run takes, in declaration order.
  std::vector<flow_input> inputs() const;
  /// The outputs a run gives back, in declaration order.
  std::vector<std::string> outputs() const;
  /// The node ids, in declaration order.
  std::vector<std::string> nodes() const;

  /// The compiled plan, for weft's own layers and weft/caf.hpp users; its
  /// type is not part of the stable API.
  const std::shared_ptr<const flows::plan>& plan() const { return plan_; }

 private:
  std::shared_ptr<const flows::plan> plan_;
};

/// A loaded flow, or the errors that stopped it from loading (every error
/// of the file, not just the first).
struct load_result {
  weft::flow flow;
  std::vector<error> errors;
  explicit operator bool() const { return static_cast<bool>(flow); }
};

}  // namespace weft
