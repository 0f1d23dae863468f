// The names of weft's data types, without the JSON library behind them.
//
// weft's headers that only pass values along (the engine, the component
// SDK) include this rather than weft/value.hpp, because nlohmann/json.hpp
// alone costs a translation unit about 2 s to compile on a typical
// machine. A file that builds or reads values includes weft/value.hpp.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace weft {

/// A JSON value (nlohmann::json): what flows along edges.
using value = nlohmann::json;

/// Named values: a node's inputs or outputs, a run's inputs or outputs.
using value_map = std::map<std::string, value, std::less<>>;

}  // namespace weft
