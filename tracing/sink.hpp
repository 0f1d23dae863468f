// A sink: where batches of finished spans go (a file, an OTLP endpoint...).
//
// Sinks are small classes behind this one interface. The exporter owns them
// and calls them from a thread of their own, never from a scheduler thread,
// so `write` may block on I/O. A sink is only constructed when its
// configuration is present.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

/// What an exporter needs to describe the resource the spans come from.
struct resource_info {
  std::string service_name = "weft";
  std::string service_version;
};

class sink {
 public:
  virtual ~sink() = default;
  /// A short name for stats and logs ("file", "otlp", "langfuse").
  virtual std::string name() const = 0;
  /// Writes one batch. Returns an empty string on success, or an error
  /// message that the exporter counts and logs (never containing secrets).
  virtual std::string write(const std::vector<span_record>& batch) = 0;
  /// Makes everything written so far durable (e.g. fflush + fsync).
  virtual std::string flush() { return {}; }
};

}  // namespace weft::tracing
