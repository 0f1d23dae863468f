// The data that flows along edges: a JSON value.
//
// JSON covers every type a flow declares (string, number, integer, boolean,
// object, array) and is what users send in and read out, so there is no
// conversion at the edges of the engine.
#pragma once

#include <map>
#include <string>

#include "weft/value.hpp"

namespace weft::flows {

// The public types (weft/value.hpp), under the names the engine uses.
using weft::value;
using weft::value_depth;
using weft::value_map;

/// Serialises a map as one JSON object.
value to_object(const value_map& m);

}  // namespace weft::flows
