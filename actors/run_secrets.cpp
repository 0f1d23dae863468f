// What a run must never show (actors/run_secrets.hpp).
#include "actors/run_secrets.hpp"

namespace weft::actors {

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

std::shared_ptr<const tracing::secret_set> child_secrets(
    const std::shared_ptr<const tracing::secret_set>& parent,
    const std::shared_ptr<const tracing::secret_set>& own) {
  if (!parent || parent->empty()) return own;
  if (!own || own->empty() || own == parent) return parent;
  auto both = std::make_shared<tracing::secret_set>(*parent);
  both->add_all(*own);
  return both;
}

}  // namespace weft::actors
