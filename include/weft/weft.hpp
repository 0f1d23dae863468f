// weft: a flow engine on the actor model, as a C++ library. This header
// includes the whole public API:
//
//   weft/engine.hpp     the engine, its options, run options and results
//   weft/flow.hpp       a loaded flow and its declared inputs and outputs
//   weft/value.hpp      the data that flows (JSON: nlohmann::json)
//   weft/component.hpp  the component SDK: write a node type of your own
//   weft/events.hpp     what a run reports while it goes
//   weft/stats.hpp      the exporter's counters
//   weft/error.hpp      errors as values, with the place at fault
//   weft/settings.hpp   threads, tracing, sinks, HTTP limits
//   weft/log.hpp        where the engine's own messages go
//   weft/version.hpp    the version, and which parts of the API are stable
//
// Not included: weft/caf.hpp, the actor system behind the engine, for those
// who host actors of their own (it brings in all of CAF).
//
// Link with weft::weft (CMake: find_package(weft)) or `pkg-config --libs weft`.
#pragma once

#include "weft/component.hpp"
#include "weft/engine.hpp"
#include "weft/error.hpp"
#include "weft/events.hpp"
#include "weft/flow.hpp"
#include "weft/log.hpp"
#include "weft/settings.hpp"
#include "weft/stats.hpp"
#include "weft/value.hpp"
#include "weft/version.hpp"
