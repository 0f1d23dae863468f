#include "components/url_parts.hpp"

#include <cstdlib>

namespace weft::components {

void server_of(const std::string& url, std::string& host, std::int64_t& port) {
  auto scheme_end = url.find("://");
  bool https = url.compare(0, 8, "https://") == 0;
  port = https ? 443 : 80;
  auto start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  auto end = url.find_first_of("/?#", start);
  auto authority = url.substr(start, end == std::string::npos ? std::string::npos : end - start);
  if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
  if (!authority.empty() && authority[0] == '[') {  // [::1]:8080
    auto close = authority.find(']');
    host = authority.substr(1, close == std::string::npos ? std::string::npos : close - 1);
    if (close != std::string::npos && close + 1 < authority.size() && authority[close + 1] == ':')
      port = std::atoll(authority.c_str() + close + 2);
    return;
  }
  auto colon = authority.rfind(':');
  host = authority.substr(0, colon);
  if (colon != std::string::npos) port = std::atoll(authority.c_str() + colon + 1);
}

bool http_scheme(const std::string& url) {
  return url.compare(0, 7, "http://") == 0 || url.compare(0, 8, "https://") == 0;
}

}  // namespace weft::components
