#include "flows/value.hpp"

namespace weft::flows {

value to_object(const value_map& m) {
  value o = value::object();
  for (auto& [k, v] : m) o[k] = v;
  return o;
}

}  // namespace weft::flows
