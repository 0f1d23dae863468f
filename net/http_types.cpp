#include "net/http_types.hpp"

#include <strings.h>

namespace weft::net {

std::string to_string(transport_error e) {
  switch (e) {
    case transport_error::none:
      return "none";
    case transport_error::connect:
      return "connect";
    case transport_error::dns:
      return "dns";
    case transport_error::timeout:
      return "timeout";
    case transport_error::other:
      return "other";
    case transport_error::aborted:
      return "aborted";
    case transport_error::invalid:
      return "invalid";
  }
  return "unknown";
}

std::optional<std::string> http_response::header(std::string_view name) const {
  for (auto& [k, v] : headers)
    if (k.size() == name.size() && strncasecmp(k.data(), name.data(), k.size()) == 0) return v;
  return std::nullopt;
}

}  // namespace weft::net
