// How `{{name}}` is escaped in the templates of http.request, by where the
// text goes. Mustache's own default is HTML escaping, which is wrong in every
// one of these places: `a&b` in a query string would reach the server as
// `a&amp;b`, and a quote in a JSON body as `&quot;`.
//
// | where                                 | `{{x}}`                          |
// |---------------------------------------|----------------------------------|
// | url                                   | percent-encoded (RFC 3986: all but A-Z a-z 0-9 - . _ ~) |
// | headers                               | as is; a CR, LF or NUL in the result fails the node |
// | body, JSON (see body_escaping)        | escaped as the inside of a JSON string |
// | body, application/x-www-form-urlencoded | percent-encoded                 |
// | body, anything else                   | as is                            |
//
// `{{{x}}}` (and `{{& x}}`) is always as is: for a whole URL, a JSON value
// put in unquoted, or text the flow author already escaped.
#pragma once

#include <string>
#include <string_view>

namespace weft::components {

enum class escaping { none, url, json };

/// `s` with every byte outside RFC 3986's unreserved set as %XX.
std::string percent_encode(std::string_view s);

/// `s` as the inside of a JSON string (no quotes).
std::string json_string_escape(std::string_view s);

/// The escaper for one mode.
std::string escape_for(escaping e, std::string_view s);

/// How `{{x}}` is escaped in a body template: from the Content-Type header
/// template when there is one (…json → json, x-www-form-urlencoded → url,
/// else none), otherwise json when the template starts with `{` or `[`
/// (after blanks), else none.
escaping body_escaping(std::string_view content_type, bool has_content_type,
                       std::string_view body_template);

/// The offset of the first CR, LF or NUL in `s` (a header value must be one
/// line: one of these would end it and start a header of the input's
/// choosing), or npos.
std::size_t header_breaker(std::string_view s);

}  // namespace weft::components
