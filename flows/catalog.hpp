// Flows that refer to other flows: how a composite's `flow:` param is
// resolved, and the loader that follows those references.
//
// A reference is one of:
//   - a path (it contains '/' or ends in .yaml, .yml or .json), relative to
//     the directory of the file that holds the reference: `./tools/search.yaml`;
//   - a flow name: the file `<name>.yaml` (or .yml, .json) next to the
//     referencing file, whose `flow:` must be that name (so `weft serve
//     --flows DIR` flows, named after their files, find each other);
//   - an inline flow: a mapping with `inputs`, `nodes` and `outputs` (and
//     optionally `flow`, its name), written in the param itself.
//
// Every referenced file is loaded and validated with the same registry and
// services as the flow that refers to it; its errors carry its own path,
// and the reference gets one more error at its own line. References form a
// tree at most max_flow_nesting deep; a cycle (a.yaml -> b.yaml -> a.yaml)
// is an error that names the chain. Within one load a file is loaded once,
// however many nodes refer to it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "flows/diagnostic.hpp"
#include "flows/plan.hpp"
#include "flows/registry.hpp"
#include "flows/services.hpp"

namespace weft::flows {

/// How deep flow references may nest (the top-level flow is level 1).
inline constexpr std::size_t max_flow_nesting = 16;

/// What component factories see of the loader (component_services::catalog).
class flow_catalog {
 public:
  virtual ~flow_catalog() = default;
  /// The flow `ref` names (a path or a flow name), as written at `at`.
  /// nullptr, with diagnostics, when it cannot be loaded.
  virtual std::shared_ptr<const plan> resolve(const std::string& ref, const source_loc& at,
                                              diagnostics& errs) = 0;
  /// An inline flow written at `at`; `name` is used when it has no `flow:`.
  virtual std::shared_ptr<const plan> resolve_inline(const value& spec, const std::string& name,
                                                     const source_loc& at, diagnostics& errs) = 0;
};

/// Loads a flow file or text and, through itself as the catalog, every flow
/// it refers to. One loader per top-level load.
class flow_loader final : public flow_catalog {
 public:
  flow_loader(const registry& components, component_services svc);

  std::shared_ptr<const plan> load_file(const std::string& path, diagnostics& errs);
  std::shared_ptr<const plan> load_text(std::string_view text, const std::string& name,
                                        diagnostics& errs);

  std::shared_ptr<const plan> resolve(const std::string& ref, const source_loc& at,
                                      diagnostics& errs) override;
  std::shared_ptr<const plan> resolve_inline(const value& spec, const std::string& name,
                                             const source_loc& at, diagnostics& errs) override;

 private:
  // Loads `path` (canonical) as a level below the ones on `stack_`.
  std::shared_ptr<const plan> load_nested(const std::string& path, const source_loc& at,
                                          diagnostics& errs);
  bool too_deep(const source_loc& at, diagnostics& errs) const;

  const registry& components_;
  component_services svc_;
  std::vector<std::string> stack_;  // files being loaded, outermost first
  std::map<std::string, std::shared_ptr<const plan>> loaded_;  // by canonical path
  // How many levels each loaded file spans, itself included: a file loaded
  // once is reused from loaded_, and must fit under every later reference.
  std::map<std::string, std::size_t> heights_;
  std::size_t deepest_ = 0;             // the deepest level (stack_ size) reached so far
  std::map<std::string, bool> failed_;  // canonical paths that did not load
};

}  // namespace weft::flows
