#include "actors/run_shared.hpp"

#include "actors/messages.hpp"
#include "tracing/redaction.hpp"

namespace weft::actors {

tracing::span_record run_shared::open_span(const tracing::trace_context& ctx,
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
  s.set("weft.flow.name", plan->name());
  if (!session_id.empty()) s.set("session.id", session_id);
  if (!user_id.empty()) s.set("user.id", user_id);
  return s;
}

void run_shared::close_span(tracing::span_record& s) { s.end_unix_ns = tracing::now_unix_ns(); }

std::string content_attribute(const flows::value_map& values) {
  return tracing::redacted_dump(flows::to_object(values));
}

}  // namespace weft::actors
