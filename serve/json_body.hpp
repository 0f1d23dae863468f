// JSON request and answer bodies, as every route of weft serve reads and
// writes them.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "flows/value.hpp"
#include "net/http_response.hpp"

namespace weft::serve {

/// An answer with a JSON body.
net::server_response json_ok(int status, const flows::value& body);

/// application/json, or a +json structured syntax (RFC 6839); parameters ignored.
bool is_json_media_type(std::string_view content_type);

/// Text for JSON that nlohmann can always dump: bytes a client sent (a
/// field name, a header) may be any bytes, and a strict dump would throw.
std::string dump(const flows::value& v);

struct too_deep : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Parses a request body, refusing nesting deeper than `max_depth` while it
/// parses (too_deep): a 40 KB body of 20,000 nested arrays would otherwise
/// become a value that recursive code walks off the stack. Throws
/// flows::value::parse_error and exception as nlohmann does.
flows::value parse_body(const std::string& text, std::size_t max_depth);

}  // namespace weft::serve
