// The limits a flow file must stay within, and why they exist.
//
// Internal to the flow loader. Each limit bounds the work or the recursion
// that a hostile file could otherwise cause; a real flow is far below all
// of them.
#pragma once

#include <cstddef>

namespace weft::flows {

/// Largest flow text accepted.
inline constexpr std::size_t max_flow_bytes = 16u << 20;
/// Deepest nesting of mappings and sequences a flow document may have; code
/// walking the tree may recurse this deep and no deeper.
inline constexpr int max_yaml_depth = 64;
/// Most nodes a document may have, counting every expansion of an alias.
inline constexpr std::size_t max_yaml_nodes = 200'000;

}  // namespace weft::flows
