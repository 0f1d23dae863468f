// The engine actor: starts runs and keeps track of the ones in flight, so
// that shutdown can cancel what is left after its deadline.
//
// Protocol:
//   start_run          -> (none)  spawn the run actor of this job
//   run_done_atom, id  -> (none)  a run completed (sent by its callback)
//   cancel_atom, why   -> (none)  cancel every run in flight
#pragma once

#include <memory>

#include <caf/all.hpp>

#include "actors/run_actor.hpp"

namespace weft::actors {

using run_done_atom = caf::atom_constant<caf::atom("wRunDone")>;

/// A request to start one run. It carries the job's completion callback, a
/// std::function that cannot be serialised; starting a run is local to the
/// process by nature, so this one message type is exempt from inspect().
struct start_run {
  std::uint64_t id = 0;
  std::shared_ptr<run_job> job;
};

caf::actor spawn_engine_actor(caf::actor_system& sys);

}  // namespace weft::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(weft::actors::start_run)
