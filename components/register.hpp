// Registering the built-in component families into an engine's registry.
#pragma once

#include "flows/registry.hpp"

namespace weft::components {

/// Adds every component family of this layer: core, http, lua, control, llm. The engine
/// calls it; nothing outside this layer knows a component type by name.
void register_all(flows::registry& r);

/// template, passthrough, const, sleep, fail (components/core.cpp).
void register_core(flows::registry& r);

/// The `http.request` node type (components/http_request.cpp).
void register_http(flows::registry& r);

/// The `lua` node type (components/lua_component.cpp).
void register_lua(flows::registry& r);

/// Control flow: `router` (components/router.cpp) and `join`
/// (components/join.cpp).
void register_router(flows::registry& r);
void register_join(flows::registry& r);

/// Composites that run other flows as child runs: `flow`
/// (components/subflow.cpp), `map` (components/map.cpp) and `loop`
/// (components/loop.cpp).
void register_subflow(flows::registry& r);
void register_map(flows::registry& r);
void register_loop(flows::registry& r);

/// LLM calls: `llm.chat` (components/llm_chat.cpp) and `agent`
/// (components/agent.cpp), on the call of components/llm_call.hpp.
void register_llm_chat(flows::registry& r);
void register_agent(flows::registry& r);

}  // namespace weft::components
