// Where weft's own messages go: a callback, never stderr behind the
// embedder's back.
//
// The library reports what happens outside any one run (a trace backend
// failing and spans being spooled, retried or dropped, a spool damaged) to
// engine_options::log. The default, log_to_stderr, writes each message as
// one line "weft: <message>", as the `weft` command shows them. An embedder
// points it at its own logger; messages about one run go to that run's
// result and spans instead.
//
//   weft::engine_options o;
//   o.log = [](weft::log_level l, std::string_view msg) { my_logger.log(to_string(l), msg); };
//
// The engine masks the secrets it knows (sink keys and header values)
// before a message reaches the callback. The callback may be called from
// any of the engine's threads, one message at a time per call; it must not
// block for long, since an exporter thread waits for it.
//
// Stable: the four levels and the callback's signature.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <string_view>

namespace weft {

enum class log_level { debug, info, warning, error };

inline const char* to_string(log_level l) {
  switch (l) {
    case log_level::debug:
      return "debug";
    case log_level::info:
      return "info";
    case log_level::warning:
      return "warning";
    case log_level::error:
      return "error";
  }
  return "info";
}

using log_fn = std::function<void(log_level, std::string_view message)>;

/// "weft: <message>\n" on stderr, written with one call so that lines from
/// different threads do not interleave.
inline void log_to_stderr(log_level, std::string_view message) {
  std::string line;
  line.reserve(message.size() + 7);
  line += "weft: ";
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace weft
