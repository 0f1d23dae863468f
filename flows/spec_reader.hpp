// Reading a flow document's YAML tree into a flow_spec: the shape of the file.
//
// Internal to the flow loader. The reader checks everything that needs only
// the file itself: known keys, names, types of values, the syntax of sources,
// `${NAME}` in params. What needs the component registry or the whole graph
// (sockets, references, cycles, params per component) is flow_checks' job;
// the reader hands it the positions the spec has no room for.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "flows/diagnostic.hpp"
#include "flows/parser.hpp"
#include "flows/spec.hpp"

namespace weft::flows {

/// Where the parts of one node are that node_spec keeps no position for.
struct node_places {
  source_loc type;    // the value of `type:` (the node's own place if absent)
  source_loc params;  // the `params:` key (the node's own place if absent)
  struct param_place {
    source_loc key;
    source_loc value;
  };
  std::map<std::string, param_place, std::less<>> param;  // by param name
  /// Input sockets whose sources had errors: checks of what they connect
  /// would only repeat those errors.
  std::set<std::string, std::less<>> broken_inputs;
};

struct read_flow {
  /// Holds what could be read even when there were errors: a node whose
  /// inputs are malformed is kept, so that references to it do not turn into
  /// errors of their own.
  flow_spec spec;
  std::vector<node_places> places;  // one per spec.nodes, same order
};

/// Reads the document `root` (from load_yaml) of `file`, substituting
/// `${NAME}` in params from `env`. Problems go to `errs`. `text` is the
/// document's text, if known: it tells literal block scalars in params apart
/// (node_spec::param_locs), which yaml-cpp does not.
read_flow read_flow_document(const YAML::Node& root, const std::string& file, const env_lookup& env,
                             diagnostics& errs, std::string_view text = {});

}  // namespace weft::flows
