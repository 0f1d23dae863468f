#include "components/mustache_data.hpp"

namespace weft::components {

mst::data to_mustache(const flows::value& v) {
  using flows::value;
  switch (v.type()) {
    case value::value_t::object: {
      mst::data d{mst::data::type::object};
      for (auto& [k, x] : v.items()) d.set(k, to_mustache(x));
      return d;
    }
    case value::value_t::array: {
      mst::data d{mst::data::type::list};
      for (auto& x : v) d.push_back(to_mustache(x));
      return d;
    }
    case value::value_t::string:
      return mst::data{v.get_ref<const std::string&>()};
    case value::value_t::boolean:
      return v.get<bool>() ? mst::data{mst::data::type::bool_true}
                           : mst::data{mst::data::type::bool_false};
    case value::value_t::null:
      return mst::data{std::string{}};
    default:
      return mst::data{v.dump()};
  }
}

mst::data mustache_context(const flows::value_map& inputs) {
  mst::data ctx{mst::data::type::object};
  for (auto& [k, v] : inputs) ctx.set(k, to_mustache(v));
  return ctx;
}

}  // namespace weft::components
