// The advanced part of the embedding API: the CAF actor system behind an
// engine, for embedders who host actors of their own beside its runs.
//
//   #include <weft/caf.hpp>
//   caf::actor_system& sys = weft::actor_system_of(eng);
//   auto mine = sys.spawn(my_actor);
//
// Including this header brings in all of CAF 0.17 (libcaf-dev), and ties
// the embedder to the CAF version weft was built with; weft.hpp does not
// include it. The system lives until engine::shutdown() returns: stop your
// actors before that. Actors spawned here share the engine's scheduler
// threads, so they must not block either.
#pragma once

#include <caf/actor_system.hpp>

#include "weft/api.hpp"
#include "weft/engine.hpp"

namespace weft {

/// The engine's internals, for this header and weft's own layers.
struct WEFT_API engine_access {
  static caf::actor_system& system(engine& e);
};

/// The actor system `e` runs on. Valid until e.shutdown().
inline caf::actor_system& actor_system_of(engine& e) { return engine_access::system(e); }

}  // namespace weft
