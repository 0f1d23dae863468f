// Registering the built-in component families into an engine's registry.
#pragma once

#include "flows/registry.hpp"

namespace weft::components {

/// Adds every component family of this layer (today: `lua`).
void register_all(flows::registry& r);

/// The `lua` node type (components/lua_component.cpp).
void register_lua(flows::registry& r);

}  // namespace weft::components
