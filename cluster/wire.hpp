// What crosses between a front (weft serve, weft load, an embedding engine
// with engine_options::workers) and a `weft worker` node, over CAF's
// middleman (BASP over TCP).
//
// The conversation:
//   front -> gate     (hello_atom, cluster key, front name, front actor)
//   gate  -> front    (ok, message, session actor): a session only for a
//                     front that showed the key
//   front -> session  (run_atom, run_request)  -> run_reply
//   front -> session  (node_atom, node_request) -> run_reply (placement)
//   session -> front  (event_atom, run id, node, event JSON): an observed
//                     run's events (node empty), or an observed placed
//                     node's, in order, all before the reply
//   front -> session  (stop_atom, run id, node, why): cancel what it sent
//   front -> session  (status_atom)            -> worker_status (heartbeat)
//
// A flow is named by its name and content hash, never shipped: front and
// worker each load their own copy, and a hash mismatch is an error that
// says so. Inputs and outputs travel as JSON text, the form both ends
// already validate. Every type here is registered with the actor system
// (add_types) and has an inspect() overload, which is its wire format:
// adding a field changes the protocol, so cluster_protocol_version moves.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <caf/actor_system_config.hpp>
#include <caf/atom.hpp>
#include <caf/meta/type_name.hpp>

namespace weft::cluster {

/// Raised whenever a wire type changes; a front and a worker of different
/// versions refuse each other at hello.
constexpr std::int32_t cluster_protocol_version = 2;

using hello_atom = caf::atom_constant<caf::atom("wHello")>;
using run_atom = caf::atom_constant<caf::atom("wRun")>;
using status_atom = caf::atom_constant<caf::atom("wStatus")>;
using node_atom = caf::atom_constant<caf::atom("wNode")>;
using stop_atom = caf::atom_constant<caf::atom("wStop")>;
using event_atom = caf::atom_constant<caf::atom("wEvent")>;

/// The run's trace context, as the worker needs it to continue the trace:
/// its spans join `trace_id` under `parent_span_id` (empty: the run span is
/// the trace's root), sampled as the front decided.
struct wire_trace {
  std::string trace_id;        // 32 hex characters
  std::string parent_span_id;  // 16 hex characters, or empty
  bool sampled = true;
  std::string tracestate;
  std::string session_id;
  std::string user_id;
  friend bool operator==(const wire_trace& a, const wire_trace& b) {
    return a.trace_id == b.trace_id && a.parent_span_id == b.parent_span_id &&
           a.sampled == b.sampled && a.tracestate == b.tracestate && a.session_id == b.session_id &&
           a.user_id == b.user_id;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wire_trace& x) {
  return f(caf::meta::type_name("weft.wire_trace"), x.trace_id, x.parent_span_id, x.sampled,
           x.tracestate, x.session_id, x.user_id);
}

/// One top-level run for a worker to execute.
struct run_request {
  std::string run_id;  // given by the front: the same id on both ends
  std::string flow;    // the flow's name
  std::string flow_hash;
  std::string inputs_json;  // an object, already checked by the front
  wire_trace trace;
  /// What is left of the run's time budget when it is sent, in ms (0: no
  /// limit). Relative, not a wall-clock instant: the two machines' clocks
  /// need not agree.
  std::int64_t deadline_ms = 0;
  /// The caller observes the run (run_options::on_event: SSE streaming,
  /// `weft run --stream`): the worker sends each of its events back, as
  /// (event_atom, run id, event JSON) before the reply.
  bool observed = false;
  friend bool operator==(const run_request& a, const run_request& b) {
    return a.run_id == b.run_id && a.flow == b.flow && a.flow_hash == b.flow_hash &&
           a.inputs_json == b.inputs_json && a.trace == b.trace && a.deadline_ms == b.deadline_ms &&
           a.observed == b.observed;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_request& x) {
  return f(caf::meta::type_name("weft.run_request"), x.run_id, x.flow, x.flow_hash, x.inputs_json,
           x.trace, x.deadline_ms, x.observed);
}

/// One node of a run at the front, for a worker with the node's placement
/// tags: the node runs there as a remote child of its run actor, its span
/// under the run span (`run.trace.parent_span_id`). `run.inputs_json` holds
/// the node's inputs, `run.deadline_ms` what is left of the run's budget.
/// The answer is a run_reply: outputs, or the error; `root_span_id` is the
/// node's span.
struct node_request {
  run_request run;
  std::string node;               // its id in the flow
  std::vector<std::string> tags;  // what it asked for
  /// The node span's id, chosen by the front: its run's events name it
  /// before the worker answers, and a node lost with its worker keeps it.
  std::string span_id;
  std::string root_run_id;  // the top-level run's (differs in a child run)
  std::int32_t depth = 0;   // how deep the node's run nests (0: top level)
  bool content = false;     // record inputs and outputs on spans
  /// The run is observed: the worker sends back what the node emits and
  /// its child runs' events (event_atom), for the front to pass on.
  bool observed = false;
  /// The run's secret values, when any of them occurs in the inputs sent:
  /// the worker then masks as the front would. Otherwise none leave.
  std::vector<std::string> secrets;
  friend bool operator==(const node_request& a, const node_request& b) {
    return a.run == b.run && a.node == b.node && a.tags == b.tags && a.span_id == b.span_id &&
           a.root_run_id == b.root_run_id && a.depth == b.depth && a.content == b.content &&
           a.observed == b.observed && a.secrets == b.secrets;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_request& x) {
  return f(caf::meta::type_name("weft.node_request"), x.run, x.node, x.tags, x.span_id,
           x.root_run_id, x.depth, x.content, x.observed, x.secrets);
}

/// How a run ended on the worker (weft::run_result, on the wire).
struct run_reply {
  bool ok = false;
  std::string run_id;
  std::string trace_id;
  std::string root_span_id;
  bool sampled = false;
  std::string outputs_json;  // an object
  std::string error;
  std::string failed_node;
  bool timed_out = false;
  std::string warning;
  double duration_ms = 0;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  std::string worker;  // the worker's name (its listen address by default)
  friend bool operator==(const run_reply& a, const run_reply& b) {
    return a.ok == b.ok && a.run_id == b.run_id && a.trace_id == b.trace_id &&
           a.root_span_id == b.root_span_id && a.sampled == b.sampled &&
           a.outputs_json == b.outputs_json && a.error == b.error &&
           a.failed_node == b.failed_node && a.timed_out == b.timed_out && a.warning == b.warning &&
           a.duration_ms == b.duration_ms && a.input_tokens == b.input_tokens &&
           a.output_tokens == b.output_tokens && a.worker == b.worker;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_reply& x) {
  return f(caf::meta::type_name("weft.run_reply"), x.ok, x.run_id, x.trace_id, x.root_span_id,
           x.sampled, x.outputs_json, x.error, x.failed_node, x.timed_out, x.warning, x.duration_ms,
           x.input_tokens, x.output_tokens, x.worker);
}

/// A worker's answer to the heartbeat: who it is, what it runs, how busy.
struct worker_status {
  std::string name;
  std::int32_t protocol = cluster_protocol_version;
  std::vector<std::string> tags;
  std::map<std::string, std::string> flows;  // name -> content hash
  std::int64_t in_flight = 0;
  std::int64_t max_in_flight = 0;  // 0: no limit
  std::uint64_t runs_done = 0;
  bool ready = true;  // false while the worker shuts down
  friend bool operator==(const worker_status& a, const worker_status& b) {
    return a.name == b.name && a.protocol == b.protocol && a.tags == b.tags && a.flows == b.flows &&
           a.in_flight == b.in_flight && a.max_in_flight == b.max_in_flight &&
           a.runs_done == b.runs_done && a.ready == b.ready;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_status& x) {
  return f(caf::meta::type_name("weft.worker_status"), x.name, x.protocol, x.tags, x.flows,
           x.in_flight, x.max_in_flight, x.runs_done, x.ready);
}

/// The gate's answer to hello: a session for this front, or why not.
struct hello_reply {
  bool ok = false;
  std::string message;  // why not (a wrong key, another protocol version)
  std::int32_t protocol = cluster_protocol_version;
  friend bool operator==(const hello_reply& a, const hello_reply& b) {
    return a.ok == b.ok && a.message == b.message && a.protocol == b.protocol;
  }
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, hello_reply& x) {
  return f(caf::meta::type_name("weft.hello_reply"), x.ok, x.message, x.protocol);
}

/// Registers every type above with `cfg`: both ends must call it before
/// their actor system starts.
void add_types(caf::actor_system_config& cfg);

/// "HOST:PORT" (or "[V6]:PORT") split; false with `why` for anything else.
struct endpoint {
  std::string host;
  std::uint16_t port = 0;
  std::string to_string() const;
};
bool parse_endpoint(const std::string& text, endpoint& out, std::string& why);

/// Compares two keys in time that does not depend on where they differ.
bool same_key(const std::string& a, const std::string& b);

}  // namespace weft::cluster
