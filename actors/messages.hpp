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
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "export/messages.hpp"
#include "flows/value.hpp"
#include "tracing/span.hpp"
#include "tracing/trace_context.hpp"
#include "weft/component.hpp"
#include "weft/events.hpp"

namespace weft::actors {

// Atom names are limited to 10 characters in CAF 0.17.
using timer_atom = caf::atom_constant<caf::atom("wTimer")>;
using timeout_atom = caf::atom_constant<caf::atom("wTimeout")>;
using cancel_atom = caf::atom_constant<caf::atom("wCancel")>;
// The exporter's atoms, under the names the engine has always used.
using exporting::flush_atom;
using exporting::stats_atom;
using start_atom = caf::atom_constant<caf::atom("wStart")>;
// Node to run: a node started (its span id), a chunk it emitted. Sent only
// when the run has an observer.
using node_started_atom = caf::atom_constant<caf::atom("wNodeStart")>;
using chunk_atom = caf::atom_constant<caf::atom("wChunk")>;
// Any thread to a node: run this function there (node_context::post).
using post_atom = caf::atom_constant<caf::atom("wPost")>;
// A child run to the node that started it (node_context::run_child): it
// finished (its result), an event of it for the observer, it let go of
// every actor and span. The node forwards events to its run with
// child_event_atom too.
using child_done_atom = caf::atom_constant<caf::atom("wChildDone")>;
using child_event_atom = caf::atom_constant<caf::atom("wChildEvt")>;
using child_released_atom = caf::atom_constant<caf::atom("wChildRel")>;

/// A child run's result on its way to its node. Local only for now, like
/// posted_fn: its inspect() carries the type name.
struct child_outcome {
  child_result result;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, child_outcome&) {
  return f(caf::meta::type_name("child_outcome"));
}

/// A run event on its way up the actor tree to the top-level observer.
struct event_msg {
  run_event event;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, event_msg&) {
  return f(caf::meta::type_name("event_msg"));
}

/// A function posted to a node's actor. Local only: it cannot cross a
/// network, so its inspect() carries nothing but the type name.
struct posted_fn {
  std::function<void()> fn;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, posted_fn&) {
  return f(caf::meta::type_name("posted_fn"));
}

/// What a node emitted (node_context::emit), on its way to the observer.
struct chunk_data {
  flows::value data;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, chunk_data& x) {
  std::string json;
  if constexpr (Inspector::reads_state) json = x.data.dump();
  auto load = caf::meta::load_callback([&]() -> caf::error {
    x.data = flows::value::parse(json, nullptr, false);
    return caf::none;
  });
  return f(caf::meta::type_name("chunk_data"), json, load);
}

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
  /// The spans the component opened under the node's span (sampled runs).
  std::vector<tracing::span_record> children;
  double duration_ms = 0;
};

/// The run actor's protocol (actors/run_actor.cpp), as a type, so that the
/// compiler checks every message its nodes, child runs and the engine send:
///   start_atom                       begin (sent once, after the handle is kept)
///   node_started_atom, node, span id  a node started (observed runs only)
///   chunk_atom, node, chunk_data      a node emitted a chunk (observed runs only)
///   child_event_atom, node, event_msg an event of a node's child run
///   node_finished                     a node's report, with its spans
///   timeout_atom                      the run's own deadline timer
///   cancel_atom, why                  stop the run, failing it with `why`
using run_actor = caf::typed_actor<
    caf::reacts_to<start_atom>, caf::reacts_to<node_started_atom, int, std::string>,
    caf::reacts_to<chunk_atom, int, chunk_data>, caf::reacts_to<child_event_atom, int, event_msg>,
    caf::reacts_to<node_finished>, caf::reacts_to<timeout_atom>,
    caf::reacts_to<cancel_atom, std::string>>;

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
           x.children, x.duration_ms, load);
}

}  // namespace weft::actors
