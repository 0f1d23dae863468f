#include "serve/auth.hpp"

#include <strings.h>

#include <algorithm>

namespace weft::serve {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Differences accumulate with OR; there is no early exit and no branch on
  // the data. Indexing wraps so that both strings are read in full.
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  std::size_t n = std::max(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    unsigned char x = a.empty() ? 0 : static_cast<unsigned char>(a[i % a.size()]);
    unsigned char y = b.empty() ? 0 : static_cast<unsigned char>(b[i % b.size()]);
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

bool bearer_matches(const std::optional<std::string>& authorization, std::string_view key) {
  if (!authorization || key.empty()) return false;
  std::string_view v = *authorization;
  constexpr std::string_view scheme = "bearer ";
  if (v.size() < scheme.size() || strncasecmp(v.data(), scheme.data(), scheme.size()) != 0)
    return false;
  v.remove_prefix(scheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return constant_time_equal(v, key);
}

}  // namespace weft::serve
