// When and how long an LLM call waits before asking again: the rules of the
// official OpenAI client, so that weft behaves towards a provider the way
// the provider's own SDK does.
//
//   - Retry on a connection error or a timeout, and on the statuses 408,
//     409, 429 and 5xx. Not on a malformed request (it fails the same way
//     every time) and not on other 4xx.
//   - A response header `x-should-retry: true` or `false` overrides that.
//   - The wait is the server's when it gives one: `retry-after-ms`
//     (milliseconds), else `retry-after` (seconds, or an HTTP date), when it
//     is between 0 and 120 s. Otherwise it is min(0.5 * 2^n, 8) seconds for
//     the n-th retry (n from 0), times a jitter drawn from [0.75, 1].
//   - At most `max_retries` retries (default 2: three attempts in all).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>

#include "weft/component.hpp"

namespace weft::components {

struct llm_retry_policy {
  int max_retries = 2;
  std::int64_t initial_ms = 500;
  std::int64_t max_ms = 8000;
};

/// The longest wait a server's retry-after may ask for and be obeyed.
inline constexpr std::int64_t llm_max_retry_after_ms = 120000;

/// Whether this answer (or failure to get one) is worth another attempt,
/// before counting attempts.
bool llm_should_retry(const http_response& r);

/// The server's own wait, from retry-after-ms or retry-after, when it is
/// within [0, 120 s]; `now` is for an HTTP date.
std::optional<std::int64_t> llm_retry_after_ms(
    const http_response& r,
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// The wait before retry number `retries_done` (0 for the first retry).
std::int64_t llm_retry_wait_ms(const http_response& r, const llm_retry_policy& p, int retries_done,
                               std::mt19937_64& rng);

}  // namespace weft::components
