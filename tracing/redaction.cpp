// Redaction of secrets: by key, and by value (secret_set).
#include "tracing/redaction.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

namespace weft::tracing {
namespace {

constexpr std::array<std::string_view, 9> secret_fragments = {
    "apikey",        "secret",     "password",   "passwd", "passphrase",
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
      if (is_secret_key(it.key())) out[it.key()] = redacted_placeholder;
      else out[it.key()] = redact(it.value());
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

// --- secret_set ---------------------------------------------------------------

namespace {

static_assert(secret_set::fragment_length <= 8, "a window must pack into 64 bits");

std::uint64_t pack_window(const char* p) {
  std::uint64_t w = 0;
  std::memcpy(&w, p, secret_set::fragment_length);
  return w;
}

// Fibonacci hashing: the top bits of the product spread the window's bytes.
std::size_t filter_bit(std::uint64_t w, int shift) {
  return static_cast<std::size_t>((w * 0x9E3779B97F4A7C15ULL) >> shift);
}

bool is_continuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

}  // namespace

void secret_set::set_filter_bit(std::uint64_t window) {
  const auto bit = filter_bit(window, filter_shift_);
  filter_[bit >> 6] |= std::uint64_t{1} << (bit & 63);
}

bool secret_set::maybe_window(std::uint64_t window) const {
  const auto bit = filter_bit(window, filter_shift_);
  return (filter_[bit >> 6] >> (bit & 63)) & 1;
}

// Sizes the bitmap at 16 bits per window (at least 4096 bits), so that a
// window of ordinary text passes it about once in sixteen lookups or less.
void secret_set::rebuild_filter() {
  int log2_bits = 12;
  while ((std::size_t{1} << log2_bits) < windows_.size() * 16) ++log2_bits;
  filter_.assign((std::size_t{1} << log2_bits) / 64, 0);
  filter_shift_ = 64 - log2_bits;
  for (auto w : windows_) set_filter_bit(w);
}

void secret_set::add_all(const secret_set& other) {
  for (const auto& v : other.values_) add(v);
  if (other.overflowed_) overflowed_ = true;
}

bool secret_set::add(std::string_view value) {
  if (value.size() < min_length || value == "true" || value == "false" || value == "null")
    return false;
  if (std::find(values_.begin(), values_.end(), value) != values_.end()) return false;
  if (values_.size() >= max_values || bytes_ + value.size() > max_bytes) {
    overflowed_ = true;
    return false;
  }
  values_.emplace_back(value);
  bytes_ += value.size();
  if (value.size() < fragment_length) {
    short_values_.emplace_back(value);
    return true;
  }
  // Merge the new windows into the sorted table: linear in the table, so
  // filling a set value by value stays cheap.
  const auto old_size = windows_.size();
  for (std::size_t i = 0; i + fragment_length <= value.size(); ++i)
    windows_.push_back(pack_window(value.data() + i));
  const auto mid = windows_.begin() + static_cast<std::ptrdiff_t>(old_size);
  std::sort(mid, windows_.end());
  std::inplace_merge(windows_.begin(), mid, windows_.end());
  windows_.erase(std::unique(windows_.begin(), windows_.end()), windows_.end());
  if (filter_.empty() || windows_.size() * 16 > filter_.size() * 64) rebuild_filter();
  else
    for (std::size_t i = 0; i + fragment_length <= value.size(); ++i)
      set_filter_bit(pack_window(value.data() + i));
  return true;
}

void secret_set::add_under_secret_keys(std::string_view key, const nlohmann::json& value) {
  std::vector<std::pair<const nlohmann::json*, bool>> stack{{&value, is_secret_key(key)}};
  while (!stack.empty()) {
    auto [v, secret] = stack.back();
    stack.pop_back();
    if (v->is_object()) {
      for (auto it = v->begin(); it != v->end(); ++it)
        stack.emplace_back(&it.value(), secret || is_secret_key(it.key()));
    } else if (v->is_array()) {
      for (const auto& e : *v) stack.emplace_back(&e, secret);
    } else if (secret && v->is_string()) {
      add(v->get_ref<const std::string&>());
    } else if (secret && v->is_number()) {
      add(v->dump());
    }
  }
}

std::vector<std::pair<std::size_t, std::size_t>> secret_set::find(std::string_view text) const {
  std::vector<std::pair<std::size_t, std::size_t>> ranges;
  if (!windows_.empty() && text.size() >= fragment_length) {
    // Consecutive matching windows overlap, so they grow one range.
    for (std::size_t i = 0; i + fragment_length <= text.size(); ++i) {
      const auto w = pack_window(text.data() + i);
      if (!maybe_window(w) || !std::binary_search(windows_.begin(), windows_.end(), w)) continue;
      if (!ranges.empty() && i <= ranges.back().second) ranges.back().second = i + fragment_length;
      else ranges.emplace_back(i, i + fragment_length);
    }
  }
  for (const auto& v : short_values_)
    for (auto at = text.find(v); at != std::string_view::npos; at = text.find(v, at + v.size()))
      ranges.emplace_back(at, at + v.size());
  if (ranges.empty()) return ranges;
  // Whole UTF-8 characters only: "***" must not leave half a character.
  for (auto& [b, e] : ranges) {
    while (b > 0 && is_continuation(text[b])) --b;
    while (e < text.size() && is_continuation(text[e])) ++e;
  }
  std::sort(ranges.begin(), ranges.end());
  std::size_t out = 0;
  for (std::size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].first <= ranges[out].second)
      ranges[out].second = std::max(ranges[out].second, ranges[i].second);
    else ranges[++out] = ranges[i];
  }
  ranges.resize(out + 1);
  return ranges;
}

std::string secret_set::mask(std::string_view text) const {
  std::string out(text);
  mask_in_place(out);
  return out;
}

void secret_set::mask_in_place(std::string& text) const {
  if (values_.empty()) return;
  const auto ranges = find(text);
  if (ranges.empty()) return;
  std::string out;
  out.reserve(text.size());
  std::size_t at = 0;
  for (auto [b, e] : ranges) {
    out.append(text, at, b - at);
    out += redacted_placeholder;
    at = e;
  }
  out.append(text, at, std::string::npos);
  text = std::move(out);
}

std::string redacted_dump(const nlohmann::json& value, const secret_set& secrets, int indent) {
  if (secrets.empty()) return redacted_dump(value, indent);
  // Masked inside the tree, so that the text stays valid JSON: a masked
  // number or key becomes the string "***" rather than a bare ***.
  nlohmann::json copy = redact(value);
  std::vector<nlohmann::json*> stack{&copy};
  while (!stack.empty()) {
    auto* v = stack.back();
    stack.pop_back();
    if (v->is_object()) {
      bool renamed = false;
      for (auto it = v->begin(); it != v->end() && !renamed; ++it)
        renamed = secrets.mask(it.key()) != it.key();
      if (renamed) {
        nlohmann::json fixed = nlohmann::json::object();
        for (auto it = v->begin(); it != v->end(); ++it)
          fixed[secrets.mask(it.key())] = std::move(it.value());
        *v = std::move(fixed);
      }
      for (auto& e : *v) stack.push_back(&e);
    } else if (v->is_array()) {
      for (auto& e : *v) stack.push_back(&e);
    } else if (v->is_string()) {
      secrets.mask_in_place(v->get_ref<std::string&>());
    } else if (v->is_number()) {
      const auto text = v->dump();
      if (secrets.mask(text) != text) *v = redacted_placeholder;
    }
  }
  auto text = copy.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
  // Last, the text itself: a secret could only still be in it by spanning
  // several JSON tokens, and then hiding it matters more than valid JSON.
  secrets.mask_in_place(text);
  return text;
}

}  // namespace weft::tracing
