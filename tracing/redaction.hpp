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
//
// Keys are not enough: a secret passed as `api_key` keeps its value when it
// flows into a socket named `k`, and a `${TOKEN}` substituted into a param
// has no key at all. So redaction is also by value: a `secret_set` holds the
// values that must never be shown, and masks them in any text, wherever
// they turn up. It travels with the run (DESIGN invariant 1), never in a
// global.
#pragma once

#include <cstddef>
#include <cstdint>
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

/// Secret values, masked by value in any text.
///
/// A registered value is masked as a whole, and so is any run of
/// `fragment_length` or more of its consecutive characters: a template that
/// shows half an API key shows "***". Matching looks up every 6-byte window
/// of the text in a sorted table of the secrets' windows, behind a bitmap
/// that rejects almost every window in one probe, so masking is linear in
/// the text whatever the secrets; overlapping and adjacent matches become
/// one "***". (A text that joins windows of a secret in another order is
/// masked too: the rule errs on the side of hiding.) Masks never split a
/// UTF-8 character.
///
/// Values shorter than `fragment_length` are masked only where they occur
/// whole. Values shorter than `min_length`, and "true", "false" and "null",
/// are not registered: they cannot be credentials, and masking them would
/// garble every text.
///
/// Bounded: at most `max_values` values and `max_bytes` bytes in all; what
/// does not fit is not registered, and overflowed() says so.
class secret_set {
 public:
  static constexpr std::size_t fragment_length = 6;
  static constexpr std::size_t min_length = 4;
  static constexpr std::size_t max_values = 256;
  static constexpr std::size_t max_bytes = 64 * 1024;

  /// Registers `value`. False when it was not (too short, already there, or
  /// the set is full).
  bool add(std::string_view value);
  /// Registers every scalar in `value` that sits under a secret key (see
  /// is_secret_key), at any depth; `key` is the key `value` itself is under
  /// ("" for none). Strings count as they are, numbers as their JSON text.
  /// Walks with an explicit stack, so any depth is safe.
  void add_under_secret_keys(std::string_view key, const nlohmann::json& value);
  /// Registers every value of `other` (a child run masks its parent's
  /// secrets as well as its own).
  void add_all(const secret_set& other);

  bool empty() const { return values_.empty(); }
  std::size_t size() const { return values_.size(); }
  bool overflowed() const { return overflowed_; }
  /// The registered values, in the order they were added (a placed node
  /// hands them to its worker, which masks as this process would).
  const std::vector<std::string>& values() const { return values_; }

  /// `text` with every secret, and every long enough run of one, replaced
  /// by "***".
  std::string mask(std::string_view text) const;
  /// mask(), in place; does nothing (and allocates nothing) when no secret
  /// occurs.
  void mask_in_place(std::string& text) const;

 private:
  void rebuild_filter();
  void set_filter_bit(std::uint64_t window);
  bool maybe_window(std::uint64_t window) const;
  // Sorted [begin, end) byte ranges of `text` to mask.
  std::vector<std::pair<std::size_t, std::size_t>> find(std::string_view text) const;

  std::vector<std::string> values_;
  std::vector<std::string> short_values_;  // those shorter than fragment_length
  std::vector<std::uint64_t> windows_;     // every fragment_length-byte window, packed, sorted
  std::vector<std::uint64_t> filter_;      // bitmap over a hash of the windows
  int filter_shift_ = 0;                   // 64 - log2(bits in filter_)
  std::size_t bytes_ = 0;
  bool overflowed_ = false;
};

/// redact(value) with every string in it, and then the whole text, masked
/// by `secrets` as well (strings first, because JSON escaping could hide a
/// secret with a quote or a backslash from the text pass).
std::string redacted_dump(const nlohmann::json& value, const secret_set& secrets, int indent = -1);

}  // namespace weft::tracing
