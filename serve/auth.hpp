// Bearer-token authentication for `weft serve` (WEFT_API_KEY).
//
// The key is compared in constant time: the loop always walks the whole
// presented token and the whole key, so the time taken says nothing about
// how many leading characters matched, nor about the key's length beyond
// what the presented token's length already tells the caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace weft::serve {

/// True when `a` and `b` are equal, in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

/// True when `authorization` (the header's value, if any) is "Bearer <key>"
/// (scheme case-insensitive, as RFC 7235 says) with the right key.
bool bearer_matches(const std::optional<std::string>& authorization, std::string_view key);

}  // namespace weft::serve
