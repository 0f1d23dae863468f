#include "actors/run_context.hpp"

#include <cstdio>

#include "actors/messages.hpp"
#include "tracing/redaction.hpp"

namespace weft::actors {

std::string new_run_id() {
  // A UUID v4 from two random 64-bit words.
  auto a = tracing::span_id::random().value, b = tracing::span_id::random().value;
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(
      buf, sizeof buf, "%08llx-%04llx-%04llx-%04llx-%012llx",
      static_cast<unsigned long long>(a >> 32), static_cast<unsigned long long>((a >> 16) & 0xffff),
      static_cast<unsigned long long>(a & 0xffff), static_cast<unsigned long long>(b >> 48),
      static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

tracing::span_record run_context::open_span(const tracing::trace_context& ctx,
                                            std::string name) const {
  tracing::span_record s;
  s.trace = ctx.trace;
  s.id = tracing::span_id::random();
  s.trace_state = ctx.trace_state;
  s.parent = ctx.parent;
  s.name = std::move(name);
  s.start_unix_ns = tracing::now_unix_ns();
  s.attributes.reserve(8);
  s.set("weft.run.id", run_id);
  // Only child runs say it: in a top-level run it would repeat
  // weft.run.id on every span (18% more bytes for chain10), and readers
  // take its absence to mean "weft.run.id" (tracing/audit.hpp does).
  if (!root_run_id.empty() && root_run_id != run_id) s.set("weft.root_run.id", root_run_id);
  s.set("weft.flow.name", plan->name());
  if (!session_id.empty()) s.set("session.id", session_id);
  if (!user_id.empty()) s.set("user.id", user_id);
  return s;
}

void run_context::close_span(tracing::span_record& s) { s.end_unix_ns = tracing::now_unix_ns(); }

std::string run_context::content_attribute(const flows::value_map& values) const {
  if (!secrets) return tracing::redacted_dump(flows::to_object(values));
  return tracing::redacted_dump(flows::to_object(values), *secrets);
}

}  // namespace weft::actors
