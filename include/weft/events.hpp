// What a run tells its observer while it goes: run_options::on_event.
//
//   weft::run_options opt;
//   opt.on_event = [](const weft::run_event& e) { std::cout << e.to_json().dump() << '\n'; };
//
// Events of one run arrive in order, one at a time, on an engine thread:
// node_started before that node's chunks, its chunks in the order it emitted
// them, node_finished after them, and run_finished last. The observer must
// not block (hand the event to a queue of your own if it must wait). With
// no observer, no event is built. Events of child runs (sub-flows, map
// items, loop iterations) arrive too, with their path; a skipped node (an
// untaken route) gets one node_finished with status "skipped".
#pragma once

#include <string>
#include <vector>

#include "weft/api.hpp"
#include "weft/value.hpp"

namespace weft {

struct WEFT_API run_event {
  enum class kind { node_started, chunk, node_finished, run_finished };
  kind type = kind::node_started;
  /// The node (empty for run_finished): its id in its own flow.
  std::string node;
  /// Where the node is from the top-level run: its id, preceded for a node
  /// of a child run by the composite node and the child's label, at every
  /// level (["each", "3", "fetch"]: node fetch of item 3 of map node each).
  std::vector<std::string> path;
  /// node_started: the node's span id (16 hex digits).
  std::string span_id;
  /// chunk: what the node emitted.
  value data;
  /// node_finished: "ok", "error" or "skipped"; run_finished: "ok" or "error".
  std::string status;
  /// node_finished: the node's duration; run_finished: the run's.
  double duration_ms = 0;
  /// node_finished, run_finished with status error: why.
  std::string error;
  /// run_finished with status ok: the run's outputs.
  value_map outputs;

  /// The event as one JSON object, e.g. {"event":"chunk","node":"n","data":"..."}
  /// (the line `weft run --stream` prints).
  value to_json() const;
};

}  // namespace weft
