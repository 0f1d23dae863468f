// The messages that travel between a run's actors, with the inspect()
// overloads CAF needs to carry them (the exporter's own are in
// export/messages.hpp).
//
// Every message that starts work carries the run's trace context (see
// tracing/trace_context.hpp); results travel back up the same actor tree.
// Values are JSON and serialise as JSON text; spans serialise field by field.
// Local delivery never serialises: these overloads only matter for remote
// actors and for debugging output.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "export/messages.hpp"
#include "flows/value.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"

namespace weft::actors {

// Atom names are limited to 10 characters in CAF 0.17.
using timer_atom = caf::atom_constant<caf::atom("wTimer")>;
using timeout_atom = caf::atom_constant<caf::atom("wTimeout")>;
using cancel_atom = caf::atom_constant<caf::atom("wCancel")>;
// The exporter's atoms, under the names the engine has always used.
using exporting::flush_atom;
using exporting::stats_atom;
using start_atom = caf::atom_constant<caf::atom("wStart")>;

/// A node actor's report to its run actor. It carries the node's finished
/// span (for sampled runs): the run actor ships a run's spans to the
/// exporter together, one message per run instead of one per node.
struct node_finished {
  int node = -1;
  bool ok = false;
  flows::value_map outputs;
  std::string error;
  bool has_span = false;
  tracing::span_record span;
};

}  // namespace weft::actors

namespace weft::tracing {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trace_context& x) {
  return f(caf::meta::type_name("trace_context"), x.trace, x.parent, x.sampled, x.session_id,
           x.user_id, x.trace_state);
}

}  // namespace weft::tracing

namespace weft::actors {

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_finished& x) {
  std::string json;
  if constexpr (Inspector::reads_state) json = flows::to_object(x.outputs).dump();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.outputs.clear();
    auto v = flows::value::parse(json, nullptr, false);
    if (v.is_object())
      for (auto& [k, e] : v.items()) x.outputs.emplace(k, e);
    return caf::none;
  });
  return f(caf::meta::type_name("node_finished"), x.node, x.ok, json, x.error, x.has_span, x.span,
           load);
}

}  // namespace weft::actors
