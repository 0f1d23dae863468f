// run_event::to_json (include/weft/events.hpp): the shape of one line of
// `weft run --stream`, and of what an embedder may forward as it is.
#include "weft/events.hpp"

namespace weft {

value run_event::to_json() const {
  value j = value::object();
  switch (type) {
    case kind::node_started:
      j["event"] = "node_started";
      j["node"] = node;
      j["path"] = path.empty() ? std::vector<std::string>{node} : path;
      j["span_id"] = span_id;
      break;
    case kind::chunk:
      j["event"] = "chunk";
      j["node"] = node;
      j["path"] = path.empty() ? std::vector<std::string>{node} : path;
      j["data"] = data;
      break;
    case kind::node_finished:
      j["event"] = "node_finished";
      j["node"] = node;
      j["path"] = path.empty() ? std::vector<std::string>{node} : path;
      j["status"] = status;
      j["duration_ms"] = duration_ms;
      if (!error.empty()) j["error"] = error;
      break;
    case kind::run_finished: {
      j["event"] = "run_finished";
      j["status"] = status;
      j["duration_ms"] = duration_ms;
      if (status == "ok") {
        value out = value::object();
        for (auto& [k, v] : outputs) out[k] = v;
        j["outputs"] = std::move(out);
      } else {
        j["error"] = error;
      }
      break;
    }
  }
  return j;
}

}  // namespace weft
