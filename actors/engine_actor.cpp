#include "actors/engine_actor.hpp"

#include <unordered_map>

#include "actors/messages.hpp"

namespace weft::actors {
namespace {

struct engine_state {
  std::unordered_map<std::uint64_t, caf::actor> live;
  static inline const char* name = "weft.engine";
};

caf::behavior engine_behavior(caf::stateful_actor<engine_state>* self) {
  return {
      [=](start_run& r) {
        // The run's run_done can only arrive after this handler returns (this
        // actor handles one message at a time), so the entry always exists
        // by the time it is erased.
        self->state.live.emplace(r.id, spawn_run(self->system(), std::move(r.job)));
      },
      [=](run_done_atom, std::uint64_t id) { self->state.live.erase(id); },
      [=](cancel_atom, const std::string& why) {
        for (auto& [_, a] : self->state.live) self->send(a, cancel_atom::value, why);
      },
  };
}

}  // namespace

caf::actor spawn_engine_actor(caf::actor_system& sys) { return sys.spawn(engine_behavior); }

}  // namespace weft::actors
