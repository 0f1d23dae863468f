// The data that flows along edges: a JSON value.
//
// JSON covers every type a flow declares (string, number, integer, boolean,
// object, array) and is what users send in and read out, so there is no
// conversion at the edges of the engine.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

namespace weft::flows {

using value = nlohmann::json;

/// Named values: a node's inputs or outputs, a run's inputs or outputs.
using value_map = std::map<std::string, value, std::less<>>;

/// Serialises a map as one JSON object.
value to_object(const value_map& m);

}  // namespace weft::flows
