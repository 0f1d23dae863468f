#include "components/llm_retry.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <string>

namespace weft::components {
namespace {

const std::string* header(const http_response& r, const char* name) {
  for (auto& [k, v] : r.headers)
    if (k == name) return &v;
  return nullptr;
}

// A non-negative decimal number ("1.5", "20"); nullopt otherwise.
std::optional<double> number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double d = std::strtod(s.c_str(), &end);
  while (end && *end == ' ') ++end;
  if (!end || *end != '\0' || !std::isfinite(d)) return std::nullopt;
  return d;
}

}  // namespace

bool llm_should_retry(const http_response& r) {
  if (!r.error.empty()) return r.error_type != "invalid" && r.error_type != "aborted";
  if (const std::string* s = header(r, "x-should-retry")) {
    if (*s == "true") return true;
    if (*s == "false") return false;
  }
  return r.status == 408 || r.status == 409 || r.status == 429 || r.status >= 500;
}

std::optional<std::int64_t> llm_retry_after_ms(const http_response& r,
                                               std::chrono::system_clock::time_point now) {
  std::optional<double> ms;
  if (const std::string* s = header(r, "retry-after-ms")) ms = number(*s);
  if (!ms) {
    if (const std::string* s = header(r, "retry-after")) {
      if (auto secs = number(*s)) {
        ms = *secs * 1000.0;
      } else {
        std::tm tm{};
        if (strptime(s->c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) {
          auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
          ms = static_cast<double>(
              std::chrono::duration_cast<std::chrono::milliseconds>(at - now).count());
        }
      }
    }
  }
  if (!ms || *ms < 0 || *ms > static_cast<double>(llm_max_retry_after_ms)) return std::nullopt;
  return static_cast<std::int64_t>(*ms);
}

std::int64_t llm_retry_wait_ms(const http_response& r, const llm_retry_policy& p, int retries_done,
                               std::mt19937_64& rng) {
  if (auto server = llm_retry_after_ms(r)) return *server;
  double base = static_cast<double>(p.initial_ms) * std::pow(2.0, retries_done);
  base = std::min(base, static_cast<double>(p.max_ms));
  std::uniform_real_distribution<double> jitter(0.75, 1.0);
  return static_cast<std::int64_t>(base * jitter(rng));
}

}  // namespace weft::components
