#include "flows/names.hpp"

#include <algorithm>
#include <cstdio>

namespace weft::flows {
namespace {

bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Longest text worth comparing for suggestions: beyond it a typo is unlikely
// and the quadratic distance would only cost time on hostile input.
constexpr std::size_t max_suggest_length = 64;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

bool is_flow_name(std::string_view s) {
  if (s.empty() || s.size() > max_name_length) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_alpha(c) || is_digit(c) || c == '_' || c == '.' || c == '-';
  });
}

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > max_name_length) return false;
  if (!(is_alpha(s[0]) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return is_alpha(c) || is_digit(c) || c == '_'; });
}

std::string quote(std::string_view s) {
  constexpr std::size_t max_shown = 60;
  std::string out = "'";
  for (std::size_t i = 0; i < s.size() && i < max_shown; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  if (s.size() > max_shown) out += "...";
  out += "'";
  return out;
}

std::string join(const std::vector<std::string>& items, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i == limit) return out + ", ...";
    if (i) out += ", ";
    out += items[i];
  }
  return out;
}

std::string closest_match(std::string_view s, const std::vector<std::string>& candidates) {
  if (s.empty() || s.size() > max_suggest_length) return {};
  std::string best;
  std::size_t best_distance = 0;
  for (const std::string& c : candidates) {
    if (c.size() > max_suggest_length || c == s) continue;
    std::size_t d = edit_distance(s, c);
    // A third of the name may be wrong: "passthru" -> "passthrough" (3 of 11)
    // still counts, "a" -> "b" does not.
    std::size_t allowed = std::max<std::size_t>(1, c.size() / 3);
    if (d > allowed || d >= c.size()) continue;
    if (best.empty() || d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean(std::string_view s, const std::vector<std::string>& candidates) {
  std::string m = closest_match(s, candidates);
  return m.empty() ? std::string{} : " (did you mean " + quote(m) + "?)";
}

}  // namespace weft::flows
