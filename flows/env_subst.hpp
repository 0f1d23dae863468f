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

/// `env`, noting in `values` every value it gives. The loader only asks the
/// environment for `${NAME}` in params, so a flow loaded through it leaves
/// in `values` what substitution put into its params: the values its runs
/// must mask (tracing::secret_set). `env` and `values` must outlive the
/// lookup returned.
env_lookup recording_env(const env_lookup& env, std::vector<std::string>& values);

}  // namespace weft::flows
