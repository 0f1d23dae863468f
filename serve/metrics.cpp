#include "serve/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "export/exporter.hpp"
#include "serve/prometheus_writer.hpp"

namespace weft::serve {

// One flow's series. Aligned so that two flows never share a cache line:
// runs of different flows then count without contending.
struct alignas(64) metrics::flow_series {
  // Indexed by run_status, then one slot for "rejected".
  std::array<std::atomic<std::uint64_t>, 4> runs{};
  // Per bucket, not cumulative (render() adds them up); the last is +Inf.
  // There is no separate count: it is the sum of the buckets, which keeps
  // +Inf == _count even when a scrape races an observation.
  std::array<std::atomic<std::uint64_t>, duration_buckets.size() + 1> buckets{};
  // Microseconds as an integer: fetch_add is one instruction where a double
  // needs a compare-and-swap loop, and the total does not depend on the
  // order of additions. 2^64 us is some 580,000 years of run time.
  std::atomic<std::uint64_t> sum_us{0};
};

namespace {

constexpr std::size_t rejected_slot = 3;
constexpr std::array<std::string_view, 4> status_names = {"ok", "failed", "timeout", "rejected"};
constexpr int first_code = 100;

// Clamps what a duration adds to the sum: NaN and negatives (clock bugs)
// add nothing, and a century bounds the conversion to an integer.
std::uint64_t to_micros(double seconds) {
  if (!(seconds > 0)) return 0;
  return static_cast<std::uint64_t>(std::llround(std::min(seconds, 3.2e9) * 1e6));
}

// Sinks keyed by name, so that two sinks sharing one (an embedder's custom
// sinks, say) become one set of series instead of duplicate series.
std::map<std::string, sink_stats> sinks_by_name(const exporter_stats& ex) {
  std::map<std::string, sink_stats> out;
  for (const auto& s : ex.sinks) {
    auto [it, fresh] = out.try_emplace(s.name, s);
    if (fresh) continue;
    auto& m = it->second;
    m.exported += s.exported;
    m.spooled += s.spooled;
    m.queued += s.queued;
    m.spool_bytes += s.spool_bytes;
    m.spool_records_damaged += s.spool_records_damaged;
    m.spool_bytes_quarantined += s.spool_bytes_quarantined;
    for (const auto& [why, n] : s.dropped) m.dropped[why] += n;
  }
  return out;
}

}  // namespace

metrics::metrics() = default;
metrics::~metrics() = default;

void metrics::register_flow(std::string_view flow) {
  if (flows_.find(flow) == flows_.end())
    flows_.emplace(std::string(flow), std::make_unique<flow_series>());
}

metrics::flow_series* metrics::find(std::string_view flow) const {
  auto it = flows_.find(flow);
  return it == flows_.end() ? nullptr : it->second.get();
}

void metrics::run_started() { inflight_.fetch_add(1, std::memory_order_relaxed); }

void metrics::run_finished(std::string_view flow, run_status status, double seconds) {
  inflight_.fetch_sub(1, std::memory_order_relaxed);
  auto* f = find(flow);
  if (f == nullptr) return;
  f->runs[static_cast<std::size_t>(status)].fetch_add(1, std::memory_order_relaxed);
  // le is "less than or equal": the first bound >= seconds; NaN and
  // negatives land in the first bucket, as they count as 0.
  auto bound = std::lower_bound(duration_buckets.begin(), duration_buckets.end(),
                                std::isnan(seconds) ? 0.0 : seconds);
  f->buckets[static_cast<std::size_t>(bound - duration_buckets.begin())].fetch_add(
      1, std::memory_order_relaxed);
  f->sum_us.fetch_add(to_micros(seconds), std::memory_order_relaxed);
}

void metrics::run_rejected(std::string_view flow) {
  if (auto* f = find(flow)) f->runs[rejected_slot].fetch_add(1, std::memory_order_relaxed);
}

void metrics::http_request(int code) {
  if (code >= first_code && code < first_code + static_cast<int>(http_codes_.size())) {
    http_codes_[static_cast<std::size_t>(code - first_code)].fetch_add(1,
                                                                       std::memory_order_relaxed);
  } else {
    http_other_.fetch_add(1, std::memory_order_relaxed);
  }
}

std::int64_t metrics::inflight() const { return inflight_.load(std::memory_order_relaxed); }

std::string metrics::render(const exporter_stats& exporter) const {
  constexpr auto relaxed = std::memory_order_relaxed;
  std::string out;
  out.reserve(2048 + flows_.size() * 2048);
  writer w(out);

  w.family("weft_runs_total", "counter",
           "Runs by flow and status: ok, failed, timeout, or rejected (refused before "
           "starting: 503 backpressure or 400 bad inputs).");
  for (const auto& [name, f] : flows_) {
    for (std::size_t i = 0; i < status_names.size(); ++i)
      w.sample("weft_runs_total", {"flow", name, "status", status_names[i]},
               f->runs[i].load(relaxed));
  }

  w.family("weft_run_duration_seconds", "histogram",
           "Duration of runs that started (status ok, failed or timeout), by flow.");
  static const auto bucket_labels = [] {
    std::array<std::string, duration_buckets.size() + 1> labels;
    for (std::size_t i = 0; i < duration_buckets.size(); ++i)
      labels[i] = writer::format(duration_buckets[i]);
    labels.back() = "+Inf";
    return labels;
  }();
  for (const auto& [name, f] : flows_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < f->buckets.size(); ++i) {
      cumulative += f->buckets[i].load(relaxed);
      w.sample("weft_run_duration_seconds_bucket", {"flow", name, "le", bucket_labels[i]},
               cumulative);
    }
    w.sample("weft_run_duration_seconds_sum", {"flow", name},
             static_cast<double>(f->sum_us.load(relaxed)) / 1e6);
    w.sample("weft_run_duration_seconds_count", {"flow", name}, cumulative);
  }

  w.family("weft_runs_inflight", "gauge", "Runs started and not yet finished.");
  w.sample("weft_runs_inflight", {}, inflight_.load(relaxed));

  w.family("weft_http_requests_total", "counter", "HTTP responses sent, by status code.");
  for (std::size_t i = 0; i < http_codes_.size(); ++i) {
    if (auto n = http_codes_[i].load(relaxed); n != 0)
      w.sample("weft_http_requests_total",
               {"code", std::to_string(first_code + static_cast<int>(i))}, n);
  }
  if (auto n = http_other_.load(relaxed); n != 0)
    w.sample("weft_http_requests_total", {"code", "other"}, n);

  const auto sinks = sinks_by_name(exporter);
  w.family("weft_spans_exported_total", "counter", "Spans the sink's backend (or file) accepted.");
  for (const auto& [name, s] : sinks)
    w.sample("weft_spans_exported_total", {"sink", name}, s.exported);
  w.family("weft_spans_dropped_total", "counter", "Spans a sink gave up on, by reason.");
  for (const auto& [name, s] : sinks) {
    for (const auto& [why, n] : s.dropped)
      w.sample("weft_spans_dropped_total", {"sink", name, "reason", why}, n);
  }
  w.family("weft_spans_spooled_total", "counter", "Spans written to the sink's disk spool.");
  for (const auto& [name, s] : sinks)
    w.sample("weft_spans_spooled_total", {"sink", name}, s.spooled);
  w.family("weft_export_queue_spans", "gauge",
           "Spans the sink holds in memory, not yet delivered.");
  for (const auto& [name, s] : sinks) w.sample("weft_export_queue_spans", {"sink", name}, s.queued);
  w.family("weft_spool_bytes", "gauge", "Current size of the sink's disk spool, in bytes.");
  for (const auto& [name, s] : sinks) w.sample("weft_spool_bytes", {"sink", name}, s.spool_bytes);
  w.family("weft_spool_records_damaged_total", "counter",
           "Damaged records the sink's spool skipped on replay (each a record, or a run of "
           "unreadable bytes).");
  for (const auto& [name, s] : sinks)
    w.sample("weft_spool_records_damaged_total", {"sink", name}, s.spool_records_damaged);
  w.family("weft_spool_bytes_quarantined", "gauge",
           "Bytes of damaged spool segments kept as *.damaged for inspection (within the spool "
           "bound).");
  for (const auto& [name, s] : sinks)
    w.sample("weft_spool_bytes_quarantined", {"sink", name}, s.spool_bytes_quarantined);
  return out;
}

}  // namespace weft::serve
