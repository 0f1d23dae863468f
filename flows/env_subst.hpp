// `${NAME}` in param strings: replaced by environment variables at load time.
//
// Internal to the flow loader. Loading is the one moment a missing variable
// can be reported with the file and line that asked for it; a run would only
// find out later, in the middle of the night. Substituted values are never
// put into messages: they are often secrets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "flows/parser.hpp"

namespace weft::flows {

/// Replaces every `${NAME}` in `text` with the value `env` gives for NAME,
/// and every `$${` with a literal `${`; any other `$` stays as it is.
/// Returns false, with one message per problem in `problems` (an unset
/// variable, a bad name, a `${` that is never closed), when it cannot.
bool substitute_env(std::string& text, const env_lookup& env, std::vector<std::string>& problems);

}  // namespace weft::flows
