// The component registry: type name -> descriptor.
//
// An engine owns one registry, filled with the built-in families of
// components/ (components::register_all); embedders add
// their own before loading flows that use them. Registration happens before
// runs start; lookups afterwards are read-only and need no lock.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "flows/component.hpp"

namespace weft::flows {

class registry {
 public:
  /// Adds or replaces a type. Returns false if `d.type` is not a valid name
  /// ([A-Za-z_][A-Za-z0-9_.-]*) or `d.make` is empty.
  bool add(component_descriptor d);
  const component_descriptor* find(std::string_view type) const;
  std::vector<std::string> type_names() const;

 private:
  std::map<std::string, component_descriptor, std::less<>> types_;
};

}  // namespace weft::flows
