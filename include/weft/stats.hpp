// What the engine counts about its traces: spans received, and for each
// sink what it exported, retried, spooled to disk and dropped, and why.
//
//   auto s = eng.stats();
//   if (s.total_dropped() > 0) std::cerr << s.to_string();
//
// Every span a run records is accounted for: it is exported, still queued
// or spooled, or counted under `dropped` with a reason ("queue_full",
// "spool_full", "rejected", ...).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "weft/api.hpp"

namespace weft {

/// Counters for one sink, kept by its worker.
struct sink_stats {
  std::string name;
  std::uint64_t received = 0;                    // spans handed to this sink
  std::uint64_t exported = 0;                    // spans the backend (or file) accepted
  std::uint64_t retried = 0;                     // spans in attempts that will be retried
  std::uint64_t spooled = 0;                     // spans written to the disk spool
  std::uint64_t replayed = 0;                    // spooled spans delivered later
  std::uint64_t failed_batches = 0;              // attempts that failed (any reason)
  std::uint64_t dead_lettered_batches = 0;       // batches rejected for good
  std::map<std::string, std::uint64_t> dropped;  // spans given up on, by reason
  std::uint64_t queued = 0;                      // spans in memory, not yet delivered
  std::uint64_t spool_bytes = 0;                 // current size of the spool on disk
  std::uint64_t spool_records_damaged = 0;       // damaged spool records skipped on replay
  std::uint64_t spool_bytes_quarantined = 0;     // bytes of *.damaged segments kept on disk
};

struct WEFT_API exporter_stats {
  std::uint64_t spans_received = 0;
  std::vector<sink_stats> sinks;

  std::uint64_t total_dropped() const;
  /// Multi-line human summary ("sink file: received 10, exported 10, ...").
  std::string to_string() const;
};

}  // namespace weft
