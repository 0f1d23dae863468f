// Checking a read flow against the component registry and as a graph.
//
// Internal to the flow loader. Runs after spec_reader, on whatever it could
// read, and adds what needs more than the file: component types, params per
// param_spec, the sockets at both ends of every edge, references to nodes
// and flow inputs, required inputs, outputs, and cycles. A node of unknown
// type is still checked for what it references, but nothing is said about
// its own sockets or params: without a descriptor that would be guesswork.
#pragma once

#include "flows/diagnostic.hpp"
#include "flows/registry.hpp"
#include "flows/spec_reader.hpp"

namespace weft::flows {

/// Adds a diagnostic to `errs` for every problem in `flow`. Also marks a
/// variadic socket given one source (not a list) as a list of one, so that
/// the component always sees an array there.
void check_flow(read_flow& flow, const registry& components, diagnostics& errs);

}  // namespace weft::flows
