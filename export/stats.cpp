// weft/stats.hpp: the exporter's counters, summed and printed.
#include "weft/stats.hpp"

#include <sstream>

namespace weft {

std::uint64_t exporter_stats::total_dropped() const {
  std::uint64_t n = 0;
  for (auto& s : sinks)
    for (auto& [_, c] : s.dropped) n += c;
  return n;
}

std::string exporter_stats::to_string() const {
  std::ostringstream o;
  o << "spans received: " << spans_received;
  for (auto& s : sinks) {
    o << "\nsink " << s.name << ": received " << s.received << ", exported " << s.exported
      << ", queued " << s.queued << ", failed batches " << s.failed_batches;
    if (s.retried) o << ", retried " << s.retried;
    if (s.spooled || s.spool_bytes)
      o << ", spooled " << s.spooled << ", spool bytes " << s.spool_bytes;
    if (s.replayed) o << ", replayed " << s.replayed;
    if (s.spool_records_damaged || s.spool_bytes_quarantined)
      o << ", spool records damaged " << s.spool_records_damaged << ", spool bytes quarantined "
        << s.spool_bytes_quarantined;
    if (s.dead_lettered_batches) o << ", dead-lettered batches " << s.dead_lettered_batches;
    for (auto& [why, n] : s.dropped) o << ", dropped(" << why << ") " << n;
  }
  return o.str();
}

}  // namespace weft
