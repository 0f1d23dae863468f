// The naming rules of flow files, and how names are shown in messages.
//
// Internal to the flow loader. Messages quote what the user wrote, and that
// may be megabytes of binary junk, so every quoted name goes through
// `quote`, which escapes and shortens it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace weft::flows {

/// Longest flow name, node id, socket, input or output name accepted.
inline constexpr std::size_t max_name_length = 64;

/// A flow name: [A-Za-z0-9_.-]{1,64}.
bool is_flow_name(std::string_view s);
/// A node id, socket, input or output name: [A-Za-z_][A-Za-z0-9_]*, at most 64.
bool is_identifier(std::string_view s);

/// The rule `is_identifier` checks, worded for messages.
inline constexpr const char* identifier_rule =
    "names must match [A-Za-z_][A-Za-z0-9_]* and be at most 64 characters";

/// `s` in single quotes, with control and non-ASCII bytes escaped and long
/// text cut short, safe to print in one line of a message.
std::string quote(std::string_view s);

/// "a, b, c"; more than `limit` items end in ", ...".
std::string join(const std::vector<std::string>& items, std::size_t limit = 20);

/// The candidate closest to `s` by edit distance, if it is close enough to be
/// a plausible typo; empty otherwise.
std::string closest_match(std::string_view s, const std::vector<std::string>& candidates);

/// " (did you mean 'x'?)" for the closest candidate, or "".
std::string did_you_mean(std::string_view s, const std::vector<std::string>& candidates);

}  // namespace weft::flows
