// The OpenAI Chat Completions wire format: the request body `llm.chat` and
// `agent` send, and the replies they read, whole (JSON) or streamed (SSE).
//
// Any server that speaks this format works: OpenAI, vLLM, llama.cpp's
// server, Ollama. What is read from a reply:
//
//   id, model, choices[0].message {content, tool_calls}, choices[0].finish_reason,
//   usage {prompt_tokens, completion_tokens, total_tokens,
//          prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens}
//
// A stream is `data: <chat.completion.chunk>` events ending with
// `data: [DONE]`. Content arrives as choices[0].delta.content pieces; a
// tool call arrives as fragments that share an `index` (the id and name on
// the first, the arguments spread over all); the usage comes in a last chunk
// with no choices (asked for with stream_options.include_usage, which is
// always sent); a chunk with an `error` member ends the stream as a failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "weft/value.hpp"

namespace weft::components {

/// The request parameters a node's params set (absent ones are not sent).
struct chat_request_params {
  std::string model;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<std::int64_t> max_tokens;
  std::string max_tokens_field = "max_completion_tokens";  // or "max_tokens" (older servers)
  std::vector<std::string> stop;
  std::optional<std::int64_t> seed;
  /// response_format's JSON Schema, its name and strictness; null: none.
  value schema;
  std::string schema_name = "response";
  bool schema_strict = true;
  bool stream = false;
};

/// The JSON body of one request: `messages` (already in chat format), the
/// params, and `tools` (OpenAI function tools) when not empty.
value chat_request_body(const chat_request_params& p, const value& messages, const value& tools);

/// Token counts of one reply (or summed over several).
struct chat_usage {
  std::int64_t input = 0;
  std::int64_t output = 0;
  std::optional<std::int64_t> cache_read;  // prompt_tokens_details.cached_tokens
  std::optional<std::int64_t> reasoning;   // completion_tokens_details.reasoning_tokens
  bool present = false;                    // the reply had a usage object

  chat_usage& operator+=(const chat_usage& o);
  /// {input_tokens, output_tokens, total_tokens}: the `usage` output.
  value to_value() const;
};

/// What one reply said.
struct chat_reply {
  std::string id;
  std::string model;
  /// The assistant message as it goes back into a transcript:
  /// {role: "assistant", content: string|null, tool_calls?: [...]}.
  value message = value::object();
  std::string text;                   // content, "" when null
  value tool_calls = value::array();  // [{id, type: function, function: {name, arguments}}]
  std::string finish_reason;
  chat_usage usage;
};

/// Reads a whole (non-streamed) reply body. Returns an error text when it
/// is not a chat completion (does not parse, nests deeper than
/// `max_depth`, has no choices).
std::optional<std::string> parse_chat_reply(std::string_view body, std::size_t max_depth,
                                            chat_reply& out);

/// Joins the chunks of a streamed reply.
class chat_stream {
 public:
  explicit chat_stream(std::size_t max_depth) : max_depth_(max_depth) {}

  enum class step { more, done, failed };
  /// Takes one event's data. `delta` gets the content it added (maybe
  /// empty). `failed`: error() says why (an error chunk, data that is not
  /// JSON, a tool-call index out of range).
  step add(std::string_view data, std::string& delta);

  bool done() const { return done_; }
  const std::string& error() const { return error_; }
  /// The reply so far (whole once done()).
  chat_reply take();

 private:
  std::size_t max_depth_;
  chat_reply reply_;
  std::string content_;
  bool has_content_ = false;
  bool done_ = false;
  std::string error_;
};

/// The message of an error body ({"error": {"message": ...}}), or the body
/// itself cut to `limit` bytes.
std::string error_message_of(std::string_view body, std::size_t limit = 300);

}  // namespace weft::components
