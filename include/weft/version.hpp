// weft's version, and what of the public API is meant to stay.
//
// The numbers here are the one source of the version: CMakeLists.txt reads
// them for project(VERSION), and so for the library's soname and packages.
//
// Versioning. Before 1.0, a minor release (0.x) may change the public API;
// each change is listed in the release notes with what to do. A patch
// release (0.x.y) never changes it.
//
// What is public (include/weft/; weft.hpp includes all but caf.hpp):
//   stable   engine.hpp (engine, engine_options, run_options, run_result,
//            run_canceller), flow.hpp, error.hpp, value.hpp, events.hpp,
//            component.hpp (component, sync_component, node_context and its
//            calls, span, component_type), stats.hpp, settings.hpp,
//            log.hpp, version.hpp. A field or call may be added in a minor
//            release; none is removed or changes meaning without notice.
//   not yet  engine_options::extra_sinks (it takes weft's internal sink
//            interface), flow::plan() (an internal type), and caf.hpp,
//            which is tied to the CAF version weft is built with.
// Anything reached through an internal header (weft::flows::,
// weft::actors::, weft::exporting::, ...) is not part of the API.
#pragma once

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

namespace weft {

inline constexpr int version_major = WEFT_VERSION_MAJOR;
inline constexpr int version_minor = WEFT_VERSION_MINOR;
inline constexpr int version_patch = WEFT_VERSION_PATCH;

#define WEFT_VERSION_TEXT_(x) #x
#define WEFT_VERSION_TEXT(x) WEFT_VERSION_TEXT_(x)
/// "MAJOR.MINOR.PATCH".
inline constexpr const char version_string[] =
    WEFT_VERSION_TEXT(WEFT_VERSION_MAJOR) "." WEFT_VERSION_TEXT(
        WEFT_VERSION_MINOR) "." WEFT_VERSION_TEXT(WEFT_VERSION_PATCH);
#undef WEFT_VERSION_TEXT
#undef WEFT_VERSION_TEXT_

}  // namespace weft
