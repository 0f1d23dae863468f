// What the HTTP-speaking components read from a URL for their spans.
#pragma once

#include <cstdint>
#include <string>

namespace weft::components {

/// True for an http:// or https:// URL.
bool http_scheme(const std::string& url);

/// server.address and server.port of an http(s) URL (the scheme's default
/// port when none is written; IPv6 literals without their brackets).
void server_of(const std::string& url, std::string& host, std::int64_t& port);

}  // namespace weft::components
