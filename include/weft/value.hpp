// weft's data: what flows along edges, what a run takes and gives back.
//
// A value is JSON (nlohmann::json, Debian's nlohmann-json3-dev). JSON covers
// every type a flow declares (string, number, integer, boolean, object,
// array, null) and is what callers send in and read out, so nothing is
// converted at the edges of the engine.
//
//   weft::value_map in{{"name", "Ada"}, {"n", 3}};
//   weft::value v = weft::value::parse(R"({"a": [1, 2]})");
//
// Nesting. Values that come from outside (run inputs, HTTP bodies, a
// component's results) are refused beyond a nesting depth (64 unless
// configured), so that no code walking a value can run off the stack.
// `value_depth` measures it without recursion.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "weft/api.hpp"
#include "weft/value_fwd.hpp"

namespace weft {

/// The nesting depth of `v` (a scalar is 0, `[1]` is 1, `[[1]]` is 2),
/// measured without recursion. Stops counting at `stop_at` and returns it,
/// so a hostile value costs no more than the walk up to the limit.
WEFT_API std::size_t value_depth(const value& v, std::size_t stop_at = 1u << 20);

}  // namespace weft
