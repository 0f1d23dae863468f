// Mustache (kainjow-mustache, Debian's libkainjow-mustache-dev) over weft
// values: what the template component and the http.request templates render.
#pragma once

#include <kainjow/mustache.hpp>

#include "flows/value.hpp"

namespace weft::components {

namespace mst = kainjow::mustache;

/// `v` as mustache data, so templates can use sections and dotted names over
/// objects and arrays, not only scalars. Strings stay strings, booleans work
/// as sections, null renders empty, numbers render as JSON. Values reach
/// components only after the engine's depth check (64 levels), which bounds
/// the recursion here.
mst::data to_mustache(const flows::value& v);

/// The context a template of a node renders with: one name per input.
mst::data mustache_context(const flows::value_map& inputs);

}  // namespace weft::components
