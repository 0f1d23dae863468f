// weft's version, and what of the public API is meant to stay.
//
// The numbers here are the one source of the version: CMakeLists.txt reads
// them for project(VERSION), and so for the library's soname and packages.
//
// Versioning. Before 1.0, a minor release (0.x) may change the public API;
// each change is listed in the release notes with what to do. A patch
// release (0.x.y) never changes it.
//
// What is public (include/weft/):
//   engine.hpp   stable: engine, engine_options' documented fields,
//                run_options, run_result, load_result, engine::run/load_*
//                and shutdown. Still moving: the headers it includes from
//                the internal layers (flows/, config/, export/), which the
//                self-contained API of issue 12 replaces.
//   component.hpp  stable: node_context and its calls; component authors
//                may rely on them.
//   events.hpp, value.hpp, log.hpp, version.hpp  stable.
// Anything reached through an internal header (caf::, weft::flows::,
// weft::actors::, weft::exporting::) is not part of the API.
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
inline constexpr const char version_string[] = WEFT_VERSION_TEXT(WEFT_VERSION_MAJOR) "." WEFT_VERSION_TEXT(
    WEFT_VERSION_MINOR) "." WEFT_VERSION_TEXT(WEFT_VERSION_PATCH);
#undef WEFT_VERSION_TEXT
#undef WEFT_VERSION_TEXT_

}  // namespace weft
