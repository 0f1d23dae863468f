// OpenAI Chat Completions messages as the OpenTelemetry GenAI semantic
// conventions record them on a span: `gen_ai.input.messages`,
// `gen_ai.output.messages` and `gen_ai.system_instructions`, in the "parts"
// format of semantic-conventions v1.41.1 (docs/gen-ai/gen-ai-input-messages.json,
// gen-ai-output-messages.json, gen-ai-system-instructions.json; attributes in
// model/gen-ai/registry.yaml; examples in docs/gen-ai/non-normative/
// examples-llm-calls.md). Those attributes are opt-in: set them only when
// content tracing is on.
//
//   OpenAI                                        GenAI v1.41.1
//   {"role":"user","content":"Hi"}             -> {"role":"user","parts":[{"type":"text","content":"Hi"}]}
//   {"role":"assistant","content":null,           {"role":"assistant","parts":[{"type":"tool_call",
//    "tool_calls":[{"id":"c1","type":"function",   "id":"c1","name":"f","arguments":{"x":1}}]}
//     "function":{"name":"f","arguments":"{\"x\":1}"}}]}
//   {"role":"tool","tool_call_id":"c1",        -> {"role":"tool","parts":[{"type":"tool_call_response",
//    "content":"42"}                                "id":"c1","response":"42"}]}
//   a reply, finish_reason "tool_calls"        -> [{"role":"assistant","parts":[...],"finish_reason":"tool_call"}]
//   system prompt "Be brief"                   -> [{"type":"text","content":"Be brief"}]
//
// Where it goes. The spec keeps instructions that are part of the chat
// history in `gen_ai.input.messages` (as role "system"), and
// `gen_ai.system_instructions` for instructions the API takes apart from the
// history (registry.yaml). Chat Completions has no such field: a system
// prompt sent as a `system` message belongs in the input messages, and
// genai_system_instructions is for a prompt that is not also in them.
//
// Messages, in order (none is reordered; one that cannot be converted, not
// an object or without a string role, is skipped):
//  - role: kept as given ("developer" too: the schema allows any string);
//    `name`, when a string, is kept.
//  - content: a string is one text part (none when empty); null or missing
//    is no part; an array of content parts converts part by part:
//      text {"text"}                 -> text {"content"}
//      image_url, https/… URL        -> uri  {"modality":"image","uri"}
//      image_url, base64 data: URL   -> blob {"modality":"image","mime_type"?,"content": the base64}
//      input_audio {data, format}    -> blob {"modality":"audio","mime_type":"audio/wav"|"audio/mpeg"|"audio/<format>","content"}
//      file {file_id}                -> file {"file_id","modality"?}
//      file {file_data: data: URL}   -> blob {"mime_type"?,"modality"?,"content"}
//      refusal {"refusal"}           -> {"type":"refusal","content"} (a generic part)
//      a bare string                 -> text
//      any other typed object        -> kept as is: a generic part (its "type" is kept)
//    `modality` is only written when known (image/audio/video, from the part
//    kind or the MIME type). The schema lists it as required, but its own
//    multimodal example leaves it out of a file part whose kind is unknown,
//    and inventing one would be wrong. A data: URL that is not base64 stays a
//    uri part.
//  - assistant extras, after the content parts: `reasoning_content` or
//    `reasoning` (a string, as OpenAI-compatible servers send it) ->
//    reasoning part, put first as in the spec's example; `refusal` (a string)
//    -> a generic "refusal" part; `tool_calls` -> tool_call parts
//    {"id"?, "name", "arguments"?}; the deprecated `function_call` -> a
//    tool_call part without id. A call without a string name is skipped.
//    `arguments` is parsed when it is a JSON text no deeper than
//    genai_max_argument_depth, else kept as the raw string (an object is
//    kept as is). A `custom` tool call's `input` is kept as a string.
//  - role "tool" -> role "tool" with one tool_call_response part
//    {"id": tool_call_id (when a string), "response": content}; content that
//    is an array of text parts is joined into one string (as the model
//    reads it), anything else is kept as is, null when missing. The
//    deprecated role "function" becomes the same, without id, its `name` kept.
//
// Output: one message for the choice, role "assistant" unless the message
// says otherwise, parts as above, and `finish_reason` mapped to the spec's
// enum where OpenAI's word differs ("tool_calls" and "function_call" ->
// "tool_call"; the spec's example does this in the output message while
// `gen_ai.response.finish_reasons` keeps OpenAI's "tool_calls"); anything
// else is kept as given.
//
// Safety. Nothing throws on odd input (wrong types, missing fields): what
// cannot be converted is skipped. Only std::bad_alloc can escape. Nothing
// recurses. Input sub-values (generic parts, tool responses) are copied into
// the result whole, which is bounded because the engine depth-checks inputs;
// tool arguments are parsed only after an iterative depth check. So a result
// is at most a few levels deeper than its input or the argument limit. Base64 data is copied whole: truncation is the caller's choice.
// The caller dumps the result; with invalid UTF-8 possible in a raw
// argument string, dump with nlohmann's error_handler_t::replace.
#pragma once

#include <cstddef>
#include <string>

#include "weft/value.hpp"

namespace weft::components {

/// The deepest tool-call `arguments` JSON that is parsed into a value
/// (value_depth's measure, the engine's default max_value_depth); a deeper
/// one is kept as its raw string.
inline constexpr std::size_t genai_max_argument_depth = 64;

/// OpenAI chat messages (an array of {role, content: string | content parts
/// | null, tool_calls?, tool_call_id?, name?}) -> `gen_ai.input.messages`:
/// [{"role", "parts": [...], "name"?}]. Not an array -> [].
value genai_input_messages(const value& openai_messages);

/// The assistant message of one choice and its finish_reason ->
/// `gen_ai.output.messages`: [{"role":"assistant","parts":[...],"finish_reason"}].
/// A message that is not an object gives one message with no parts.
value genai_output_messages(const value& assistant_message, const std::string& finish_reason);

/// A system prompt -> `gen_ai.system_instructions`:
/// [{"type":"text","content": system}]; an empty prompt -> [].
value genai_system_instructions(const std::string& system);

}  // namespace weft::components
