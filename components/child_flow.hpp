// What the composites (`flow`, `map`, `loop`) share: reading the `flow`
// param into a loaded child flow, and checking a node's input sockets
// against that flow's declared inputs, both at load with file:line:col.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "flows/catalog.hpp"
#include "flows/component.hpp"

namespace weft::components {

/// The flow param `flow` names (a path, a flow name or an inline mapping),
/// loaded through svc.catalog; nullptr with diagnostics when it cannot be.
std::shared_ptr<const flows::plan> child_flow(const flows::node_spec& n,
                                              const flows::component_services& svc,
                                              flows::diagnostics& errs);

/// The flow `ref` names (as child_flow, for a reference that is not the
/// `flow` param: an agent's tool), written at `at`; `what` names it in errors.
std::shared_ptr<const flows::plan> flow_ref(const flows::node_spec& n, const flows::value& ref,
                                            const flows::source_loc& at, const std::string& what,
                                            const flows::component_services& svc,
                                            flows::diagnostics& errs);

/// Checks that every input socket of `n` other than `own` (sockets the
/// composite consumes itself: a map's `items`) is a declared input of
/// `child`, and that every required input of `child` other than `provided`
/// (inputs the composite fills in itself: a map's `item`) is connected.
/// Adds one diagnostic per problem; returns false if there was any.
bool check_child_inputs(const flows::node_spec& n, const flows::plan& child,
                        const std::set<std::string>& own, const std::set<std::string>& provided,
                        flows::diagnostics& errs);

/// Where param `key` of `n` is written (or the node, when not recorded).
flows::source_loc param_at(const flows::node_spec& n, const std::string& key);

/// An integer param within [lo, hi], or `fallback` when absent; a
/// diagnostic (and `ok` = false) when it is out of range.
std::int64_t int_param(const flows::node_spec& n, const std::string& key, std::int64_t fallback,
                       std::int64_t lo, std::int64_t hi, flows::diagnostics& errs, bool& ok);

}  // namespace weft::components
