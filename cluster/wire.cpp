#include "cluster/wire.hpp"

#include <cstdlib>

namespace weft::cluster {

void add_types(caf::actor_system_config& cfg) {
  cfg.add_message_type<wire_trace>("weft.wire_trace");
  cfg.add_message_type<run_request>("weft.run_request");
  cfg.add_message_type<node_request>("weft.node_request");
  cfg.add_message_type<run_reply>("weft.run_reply");
  cfg.add_message_type<worker_status>("weft.worker_status");
  cfg.add_message_type<hello_reply>("weft.hello_reply");
}

std::string endpoint::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool parse_endpoint(const std::string& text, endpoint& out, std::string& why) {
  std::string host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      why = "'" + text + "' is not [ADDRESS]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      why = "'" + text + "' is not HOST:PORT (for example 127.0.0.1:7400)";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      why = "'" + text + "': write an IPv6 address in brackets, [::1]:7400";
      return false;
    }
  }
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    why = "'" + text + "': the port must be a number from 0 to 65535";
    return false;
  }
  out.host = host;
  out.port = static_cast<std::uint16_t>(p);
  return true;
}

bool same_key(const std::string& a, const std::string& b) {
  // Every byte of the longer one is looked at, whatever the first
  // difference: the time taken says nothing about the key.
  const std::size_t n = a.size() > b.size() ? a.size() : b.size();
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

}  // namespace weft::cluster
