// Reading flow files (YAML, or JSON as a subset of YAML) into a validated
// flow_spec.
//
// The parser reports every problem it finds as a diagnostic with the file,
// line and column at fault, and keeps going; it returns a spec only when
// there were none. It never throws and never crashes, whatever the bytes.
// Diagnostics come sorted by position.
//
// A flow file is one UTF-8 YAML document of at most 16 MiB, nested at most
// 64 levels, with unique mapping keys and at most 200,000 nodes once its
// aliases are expanded; only the standard tags (!!str, !!int, ...) are
// allowed. Plain scalars in params and defaults follow YAML 1.2's core
// schema (`yes` is a string, `true` a boolean). `${NAME}` in param strings
// is replaced from `env` at load time (`$${` is a literal `${`); nothing
// else is substituted. The parser checks component types, sockets and
// param types against the registry, but does not instantiate components:
// that is compile()'s job (flows/plan.hpp).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "flows/diagnostic.hpp"
#include "flows/registry.hpp"
#include "flows/services.hpp"
#include "flows/spec.hpp"

namespace weft::flows {

/// 16 hex digits that change whenever `text` does (FNV-1a, 64 bits): what
/// flow_spec::content_hash holds.
std::string content_hash(std::string_view text);

/// Parses and validates flow text. `file` names the source in diagnostics.
std::optional<flow_spec> parse_flow(std::string_view text, const std::string& file,
                                    const registry& components, diagnostics& errs,
                                    const env_lookup& env = process_env());

/// Reads and parses a flow file; an unreadable file is a diagnostic too.
std::optional<flow_spec> parse_flow_file(const std::string& path, const registry& components,
                                         diagnostics& errs, const env_lookup& env = process_env());

}  // namespace weft::flows
