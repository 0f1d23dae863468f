// Turning parts of a checked YAML tree into values.
//
// Internal to the flow loader. Plain scalars are resolved as YAML 1.2's core
// schema says (null, true/false, integers, floats, else strings), not as
// YAML 1.1 did: `yes`, `on` and `0x1f` stay strings. Numbers that JSON
// cannot hold (1e999, .inf, .nan) stay strings too.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <yaml-cpp/yaml.h>

#include "flows/diagnostic.hpp"
#include "flows/value.hpp"

namespace weft::flows {

/// True for the tags a flow file may use: none, or !!str, !!int, !!float,
/// !!bool, !!null, !!map, !!seq.
bool is_standard_tag(const std::string& tag);
/// "!!int" for "tag:yaml.org,2002:int"; other tags as they are.
std::string short_tag(const std::string& tag);

/// Sees every string scalar that `to_value` converts, with the node it came
/// from and its path inside the converted value ("headers.auth", "items[2]").
/// It may rewrite the string; returning false rejects it (the hook adds the
/// diagnostic).
using string_hook =
    std::function<bool(std::string& text, const YAML::Node& at, const std::string& path)>;

/// Converts a node of a tree from load_yaml into a value; quoted scalars
/// are strings. Returns nullopt (with diagnostics) when some part cannot be
/// converted (`!!int abc`, or a string the hook rejects).
std::optional<value> to_value(const YAML::Node& n, const std::string& file, diagnostics& errs,
                              const std::string& path = {}, const string_hook& on_string = {});

}  // namespace weft::flows
