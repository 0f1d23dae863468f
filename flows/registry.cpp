#include "flows/registry.hpp"

#include <cctype>

namespace weft::flows {
namespace {

bool valid_type_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'))
      return false;
  return true;
}

}  // namespace

bool registry::add(component_descriptor d) {
  if (!valid_type_name(d.type) || !d.make) return false;
  auto key = d.type;
  types_.insert_or_assign(std::move(key), std::move(d));
  return true;
}

const component_descriptor* registry::find(std::string_view type) const {
  auto i = types_.find(type);
  return i == types_.end() ? nullptr : &i->second;
}

std::vector<std::string> registry::type_names() const {
  std::vector<std::string> out;
  out.reserve(types_.size());
  for (auto& [k, _] : types_) out.push_back(k);
  return out;
}

}  // namespace weft::flows
