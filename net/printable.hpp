// Text from the network, made fit for a log line or a file an operator
// reads: remote text with its control characters escaped (a backend must
// not be able to forge log lines or drive a terminal), and URLs without
// the credentials that userinfo (`http://user:password@host`) can carry.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace weft::net {

/// `text` with CR, LF, TAB, the other C0 controls, DEL, the C1 controls and
/// bytes that are not UTF-8 escaped (`\r`, `\n`, `\t`, `\xHH`, `\u0085`),
/// and backslash doubled, so what is printed reads back unambiguously.
/// At most `max_bytes` of `text` are used; a longer text ends in "...".
std::string printable(std::string_view text, std::size_t max_bytes = 200);

/// The userinfo of an absolute URL (`user:password` in
/// `http://user:password@host/`), or empty when it has none.
std::string_view url_userinfo(std::string_view url);

/// `url` with its userinfo replaced by `***`; unchanged when it has none.
std::string redact_userinfo(std::string_view url);

/// `url` fit for a span or a message: scheme, host, port and path, without
/// userinfo, query or fragment (either may carry a credential).
std::string display_url(std::string_view url);

}  // namespace weft::net
