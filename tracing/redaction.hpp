// Keeping secrets out of spans, logs and errors (design invariant 7).
//
// Redaction is by key: a value stored under a key that looks like it holds a
// credential is replaced by "***", whatever the value is. Keys are compared
// case-insensitively and with separators ignored, so "api_key", "API-Key",
// "apiKey" and "x-api-key" all match.
//
// A key is secret when it contains one of
//   apikey, secret, password, passwd, passphrase, authorization, privatekey,
//   credential, cookie
// (after dropping '_', '-', '.', spaces), or when one of its words is "pwd",
// "auth" or "token". "token" gets care because LLM usage data is full of
// token counts: "tokens", "max_tokens", "token_count", "prompt_token_usage"
// are not secret, while "token", "access_token", "authToken" and
// "x-auth-token" are. When in doubt the rule redacts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tracing/span.hpp"

namespace weft::tracing {

/// What a redacted value is replaced with.
inline constexpr std::string_view redacted_placeholder = "***";

/// True when values under `key` must never be shown.
bool is_secret_key(std::string_view key);

/// A deep copy of `value` in which every value under a secret key, at any
/// depth of objects and arrays, is replaced by "***".
nlohmann::json redact(const nlohmann::json& value);

/// redact(value).dump(indent), with invalid UTF-8 replaced rather than thrown
/// on, so that it is safe to call from error paths.
std::string redacted_dump(const nlohmann::json& value, int indent = -1);

/// Replaces the values of secret-keyed span attributes by "***" in place.
void redact_attributes(std::vector<attribute>& attributes);

}  // namespace weft::tracing
