// Loading flow text into a YAML tree that is safe to walk, and turning parts
// of that tree into values.
//
// Internal to the flow loader. yaml-cpp accepts documents that would hurt the
// code walking them: aliases blow a small text up into a huge tree (and
// `&a [*a]` into a cyclic one), duplicate mapping keys silently lose one
// value, and deep nesting means deep recursion. `load_yaml` checks all of
// that once, up front, so that everything after it may walk the tree with
// plain recursion and never meets a surprise.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/yaml.h>

#include "flows/diagnostic.hpp"
#include "flows/value.hpp"

namespace weft::flows {

/// Deepest nesting of mappings and sequences a flow document may have.
inline constexpr int max_yaml_depth = 64;
/// Most nodes a document may have, counting every expansion of an alias.
inline constexpr std::size_t max_yaml_nodes = 200'000;
/// Largest flow text accepted.
inline constexpr std::size_t max_flow_bytes = 16u << 20;

/// A yaml-cpp mark (0-based, -1 when unknown) as a source_loc (1-based, 0
/// when unknown).
source_loc loc_of(const YAML::Mark& m, const std::string& file);
source_loc loc_of(const YAML::Node& n, const std::string& file);

/// Parses `text` as exactly one YAML document and checks the whole tree:
/// UTF-8 text without control characters, YAML syntax, a single document,
/// nesting depth, size after alias expansion, mapping keys that are scalars
/// and unique, and only the standard tags (!!str, !!int, ...).
///
/// Returns the root (a Null node for an empty document) whenever the tree is
/// safe to walk; it may then still come with diagnostics (a duplicate key, an
/// unknown tag). Returns nullopt when it is not.
std::optional<YAML::Node> load_yaml(std::string_view text, const std::string& file,
                                    diagnostics& errs);

/// Sees every string scalar that `to_value` converts, with the node it came
/// from and its path inside the converted value ("headers.auth", "items[2]").
/// It may rewrite the string; returning false rejects it (the hook adds the
/// diagnostic).
using string_hook =
    std::function<bool(std::string& text, const YAML::Node& at, const std::string& path)>;

/// Converts a node of a tree from load_yaml into a value. Plain scalars are
/// resolved as YAML 1.2's core schema says (null, true/false, integers,
/// floats, else strings); quoted scalars are strings. Returns nullopt (with
/// diagnostics) when some part cannot be converted.
std::optional<value> to_value(const YAML::Node& n, const std::string& file, diagnostics& errs,
                              const std::string& path = {}, const string_hook& on_string = {});

/// Calls `f(key, key_node, value_node)` for each entry of mapping `m` whose
/// key is a scalar, in file order, skipping repeated keys (load_yaml has
/// reported those already).
void for_each_entry(
    const YAML::Node& m,
    const std::function<void(const std::string&, const YAML::Node&, const YAML::Node&)>& f);

/// "a mapping", "a sequence", "a string", "nothing": what a node is, for
/// messages such as "expected a mapping, got a sequence".
const char* kind_of(const YAML::Node& n);

}  // namespace weft::flows
