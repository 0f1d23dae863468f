// weft serve as an OpenAI-compatible backend: flows as models, so any
// client that speaks Chat Completions (the openai SDKs, LibreChat, an IDE
// plugin) can call a flow.
//
//   GET  /v1/models             -> {"object": "list", "data": [{"id": FLOW, "object": "model", ...}]}
//   POST /v1/chat/completions   {"model": FLOW, "messages": [...], "stream", "stream_options", "user"}
//
// Which flows. A flow is a model when it has an input `messages` (an array)
// or `prompt` (a string) and an output `text`. `messages` gets the request's
// messages as they are; `prompt` gets the content of the last user message
// (text parts joined). `user` becomes the run's user id; X-Session-Id, and a
// traceparent header, work as on every route. Other inputs of the flow must
// have defaults.
//
// The answer is a `chat.completion` with the flow's `text` as the
// assistant's content, finish_reason "stop", and `usage` summed over the
// run's model calls (child runs included). With "stream": true it is an
// event stream of `chat.completion.chunk`s: a first chunk with the role,
// one chunk per content delta of the node that produces `text` (its own
// chunk events and those of child runs under it), a last chunk with the
// finish reason, with stream_options.include_usage a usage chunk with no
// choices, then `data: [DONE]`. A run that fails mid-stream sends
// `data: {"error": {...}}` instead of the end. A client that leaves cancels
// its run.
//
// Errors have OpenAI's shape, {"error": {"message", "type", "param",
// "code"}}: 400 invalid_request_error naming the `param`, 401
// invalid_api_key (under WEFT_API_KEY), 404 model_not_found, 405, 429
// rate_limit_exceeded with retry-after when --max-inflight runs are going,
// 500 run_failed naming the node, 504 run_timeout.
#pragma once

#include <string_view>

#include "flows/plan.hpp"
#include "net/http_response.hpp"

namespace weft::serve {

/// Whether `flow` can be called as a chat model (see above).
bool is_chat_model(const flows::plan& flow);

/// An error in OpenAI's shape. `param` and `code` are null when empty.
net::server_response openai_error(int status, std::string_view type, std::string_view message,
                                  std::string_view param = {}, std::string_view code = {});

}  // namespace weft::serve
