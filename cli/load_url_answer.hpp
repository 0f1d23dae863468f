// How `weft load --url` reads one answer, for each of the four ways it can
// drive a server (load_url_command.cpp):
//
//   runs         POST /v1/flows/NAME/runs, JSON answer with trace_id, run_id
//   runs_stream  the same route with Accept: text/event-stream: run events,
//                ids 1, 2, 3..., ending in run_finished (its status, ids, outputs)
//   chat         POST /v1/chat/completions: a chat.completion
//   chat_stream  the same with "stream": true: chat.completion.chunk events
//                ending in `data: [DONE]`
//
// A stream is "complete" when it ended the way its protocol says, with no
// bytes of an unfinished event left over and no id skipped; a run is "ok"
// when it is complete and reported success. Counting happens after the
// transfer, from the kept body: one pass of the SSE parser per stream.
#pragma once

#include <cstdint>
#include <string>

#include "net/http_types.hpp"

namespace weft::cli {

enum class load_route { runs, runs_stream, chat, chat_stream };

struct load_answer {
  bool ok = false;
  bool complete = false;    // streams: ended as the protocol says; others: == ok
  std::string trace_id;     // as the server reported it; empty when the route does not say
  std::string run_id;       // likewise
  std::int64_t events = 0;  // SSE events read: run events, or completion chunks
  std::string error;        // why not ok, in one line
};

/// Reads `r`, a 2xx answer whose body was kept whole unless `truncated`.
load_answer read_answer(load_route route, const net::http_response& r, bool truncated);

/// "HTTP 503 server_busy: too many runs in flight (...)" from the error JSON
/// of a failed answer (weft's and OpenAI's shapes), else from the status or
/// the transport error alone.
std::string describe_failure(const net::http_response& r);

}  // namespace weft::cli
