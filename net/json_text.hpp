// JSON string text that is always valid, whatever bytes a client sent.
//
// Error answers quote what the client sent (a path, a header, a field name),
// and those bytes need not be UTF-8: "%ff%fe" in a path decodes to two bytes
// that no JSON text may carry. A response that is not valid JSON is worse
// than a terse one, because clients fail to parse the error itself. So every
// byte sequence that is not well-formed UTF-8 (RFC 3629: no overlongs, no
// surrogates, nothing past U+10FFFF) becomes U+FFFD, and control characters
// are escaped.
#pragma once

#include <string>
#include <string_view>

namespace weft::net {

/// Appends `s` as the inside of a JSON string (no quotes), escaped, with
/// ill-formed UTF-8 replaced by U+FFFD.
void append_json_escaped(std::string& out, std::string_view s);

/// `s` with every ill-formed UTF-8 sequence replaced by U+FFFD (no escaping).
std::string valid_utf8(std::string_view s);

}  // namespace weft::net
