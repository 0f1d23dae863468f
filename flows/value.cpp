#include "flows/value.hpp"

#include <utility>
#include <vector>

namespace weft::flows {

value to_object(const value_map& m) {
  value o = value::object();
  for (auto& [k, v] : m) o[k] = v;
  return o;
}

}  // namespace weft::flows

namespace weft {

std::size_t value_depth(const value& v, std::size_t stop_at) {
  // Most values (node outputs, mostly) are scalars: no stack for them.
  if (!v.is_structured()) return 0;
  // An explicit stack of (container, depth): no recursion, whatever the input.
  std::size_t deepest = 0;
  std::vector<std::pair<const value*, std::size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [x, d] = todo.back();
    todo.pop_back();
    if (!x->is_structured()) continue;
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest >= stop_at) return stop_at;
    for (const auto& child : *x)
      if (child.is_structured()) todo.emplace_back(&child, d + 1);
  }
  return deepest;
}

}  // namespace weft
