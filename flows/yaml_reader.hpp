// Loading flow text into a YAML tree that is safe to walk.
//
// Internal to the flow loader. yaml-cpp accepts documents that would hurt the
// code walking them: aliases blow a small text up into a huge tree (and
// `&a [*a]` into a cyclic one), duplicate mapping keys silently lose one
// value, and deep nesting means deep recursion. `load_yaml` checks all of
// that once, up front, so that everything after it may walk the tree with
// plain recursion and never meets a surprise.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "flows/diagnostic.hpp"
#include "flows/flow_limits.hpp"

namespace weft::flows {

/// A yaml-cpp mark (0-based, -1 when unknown) as a source_loc (1-based, 0
/// when unknown).
source_loc loc_of(const YAML::Mark& m, const std::string& file);
source_loc loc_of(const YAML::Node& n, const std::string& file);

/// Parses `text` as exactly one YAML document and checks the whole tree
/// against flow_limits.hpp: the text (see text_scan.hpp), YAML syntax, a
/// single document, nesting depth, size after alias expansion, mapping keys
/// that are scalars and unique, and only the standard tags (!!str, ...).
///
/// Returns the root (a Null node for an empty document) whenever the tree is
/// safe to walk; it may then still come with diagnostics (a duplicate key, an
/// unknown tag). Returns nullopt when it is not.
std::optional<YAML::Node> load_yaml(std::string_view text, const std::string& file,
                                    diagnostics& errs);

/// Calls `f(key, key_node, value_node)` for each entry of mapping `m` whose
/// key is a scalar, in file order, skipping repeated keys (load_yaml has
/// reported those already).
void for_each_entry(
    const YAML::Node& m,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f);

/// "a mapping", "a sequence", "a scalar", "nothing": what a node is, for
/// messages such as "expected a mapping, got a sequence".
const char* kind_of(const YAML::Node& n);

}  // namespace weft::flows
