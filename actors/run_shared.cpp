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

std::string run_shared::content_attribute(const flows::value_map& values) const {
  if (!secrets) return tracing::redacted_dump(flows::to_object(values));
  return tracing::redacted_dump(flows::to_object(values), *secrets);
}

std::shared_ptr<const tracing::secret_set> run_secrets(const flows::plan& plan,
                                                       const flows::value_map& inputs) {
  const std::size_t from_plan = plan.env_secrets ? plan.env_secrets->size() : 0;
  std::shared_ptr<tracing::secret_set> own;
  for (const auto& [key, value] : inputs) {
    // Most inputs are scalars under plain keys, which hold no secret.
    if (!value.is_structured() && !tracing::is_secret_key(key)) continue;
    if (!own)
      own = plan.env_secrets ? std::make_shared<tracing::secret_set>(*plan.env_secrets)
                             : std::make_shared<tracing::secret_set>();
    own->add_under_secret_keys(key, value);
  }
  if (own && (own->size() > from_plan || own->overflowed())) return own;
  return plan.env_secrets;
}

}  // namespace weft::actors
