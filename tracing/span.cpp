// The wall clock for span timestamps.
#include "tracing/span.hpp"

#include <time.h>

namespace weft::tracing {

std::uint64_t now_unix_ns() noexcept {
  // CLOCK_REALTIME because OTLP timestamps are Unix epoch times that backends
  // compare across machines; durations computed from them can be off when the
  // clock steps, which is the accepted trade-off in OpenTelemetry too.
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000ULL +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

}  // namespace weft::tracing
