// What a run must never show: the values its flow substituted from the
// environment and its inputs under secret keys, and a child run's share of
// its parent's.
#pragma once

#include <memory>

#include "flows/plan.hpp"
#include "tracing/redaction.hpp"

namespace weft::actors {

/// The secrets of a child run: its parent's (what the parent masks, the
/// child masks too) and its own (run_secrets). Shares when one side is empty.
std::shared_ptr<const tracing::secret_set> child_secrets(
    const std::shared_ptr<const tracing::secret_set>& parent,
    const std::shared_ptr<const tracing::secret_set>& own);

/// The secrets of a run of `plan` with `inputs`: the plan's env_secrets,
/// plus every input value under a secret key (shared with the plan when
/// the inputs add none, so most runs allocate nothing).
std::shared_ptr<const tracing::secret_set> run_secrets(const flows::plan& plan,
                                                       const flows::value_map& inputs);

}  // namespace weft::actors
