// Head sampling decisions.
#include "tracing/sampler.hpp"

#include <cstdint>

namespace weft::tracing {

bool sample_decision(const trace_id& trace, double ratio) noexcept {
  if (!(ratio > 0.0)) return false;  // also catches NaN
  if (ratio >= 1.0) return true;
  std::uint64_t low = 0;
  for (std::size_t i = 8; i < 16; ++i) low = (low << 8) | trace.bytes[i];
  // ratio < 1, so ratio * 2^64 < 2^64 and the conversion cannot overflow.
  const auto threshold = static_cast<std::uint64_t>(ratio * 18446744073709551616.0);
  return low < threshold;
}

bool should_sample(std::optional<bool> parent_sampled, const trace_id& trace,
                   double ratio) noexcept {
  if (parent_sampled) return *parent_sampled;
  return sample_decision(trace, ratio);
}

}  // namespace weft::tracing
