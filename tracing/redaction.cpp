// Key-based redaction of secrets.
#include "tracing/redaction.hpp"

#include <algorithm>
#include <array>

namespace weft::tracing {
namespace {

constexpr std::array<std::string_view, 9> secret_fragments = {
    "apikey", "secret", "password", "passwd", "passphrase",
    "authorization", "privatekey", "credential", "cookie"};

// Words around "token" that make it a count or a setting, not a credential.
constexpr std::array<std::string_view, 9> token_count_before = {
    "max", "min", "num", "total", "prompt", "completion", "input", "output", "reasoning"};
constexpr std::array<std::string_view, 9> token_count_after = {
    "count", "counts", "usage", "limit", "limits", "budget", "type", "index", "id"};

char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
bool is_lower(char c) noexcept { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) noexcept { return c >= 'A' && c <= 'Z'; }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// Lowercase words: split at anything that is not a letter or digit, and at
// camelCase humps ("accessToken" -> "access", "token").
std::vector<std::string> split_words(std::string_view key) {
  std::vector<std::string> words;
  std::string cur;
  char prev = 0;
  for (char c : key) {
    const bool alnum = is_lower(c) || is_upper(c) || is_digit(c);
    if (!alnum) {
      if (!cur.empty()) words.push_back(std::move(cur)), cur.clear();
    } else {
      if (is_upper(c) && (is_lower(prev) || is_digit(prev)) && !cur.empty())
        words.push_back(std::move(cur)), cur.clear();
      cur += ascii_lower(c);
    }
    prev = c;
  }
  if (!cur.empty()) words.push_back(std::move(cur));
  return words;
}

template <std::size_t N>
bool one_of(const std::string& w, const std::array<std::string_view, N>& list) {
  return std::find(list.begin(), list.end(), w) != list.end();
}

}  // namespace

bool is_secret_key(std::string_view key) {
  const auto words = split_words(key);
  std::string joined;
  for (auto& w : words) joined += w;
  for (auto fragment : secret_fragments)
    if (joined.find(fragment) != std::string::npos) return true;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const auto& w = words[i];
    if (w == "pwd" || w == "auth") return true;
    if (w != "token") continue;
    const bool count_like = (i > 0 && one_of(words[i - 1], token_count_before)) ||
                            (i + 1 < words.size() && one_of(words[i + 1], token_count_after));
    if (!count_like) return true;
  }
  return false;
}

nlohmann::json redact(const nlohmann::json& value) {
  if (value.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (is_secret_key(it.key()))
        out[it.key()] = redacted_placeholder;
      else
        out[it.key()] = redact(it.value());
    }
    return out;
  }
  if (value.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& element : value) out.push_back(redact(element));
    return out;
  }
  return value;
}

std::string redacted_dump(const nlohmann::json& value, int indent) {
  return redact(value).dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void redact_attributes(std::vector<attribute>& attributes) {
  for (auto& a : attributes)
    if (is_secret_key(a.key)) a.value = std::string(redacted_placeholder);
}

}  // namespace weft::tracing
