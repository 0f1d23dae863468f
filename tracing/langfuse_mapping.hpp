// weft spans -> the attributes Langfuse reads from OTLP spans.
//
// Langfuse's OTLP endpoint (/api/public/otel/v1/traces) builds traces and
// observations from `langfuse.*` span attributes, which take precedence over
// anything it would infer from other attributes
// (https://langfuse.com/integrations/native/opentelemetry#property-mapping).
// weft's spans carry their own attributes (set by the run and node actors):
//
//   weft.run.id, weft.flow.name, session.id, user.id   on every span of a run
//   weft.node.id, weft.node.type                        on node spans
//   weft.inputs, weft.outputs (JSON text)               only with content tracing
//
// and the `llm.chat` and `agent` components add OpenTelemetry GenAI spans
// (semantic conventions v1.41.1) under their node spans:
//
//   chat {model}        gen_ai.operation.name "chat", gen_ai.request.*,
//                       gen_ai.response.*, gen_ai.usage.*, weft.llm.cost.*,
//                       weft.llm.time_to_first_chunk_ms; with content
//                       gen_ai.input.messages, gen_ai.output.messages,
//                       gen_ai.system_instructions
//   invoke_agent {name} gen_ai.operation.name "invoke_agent", usage sums
//   execute_tool {tool} gen_ai.operation.name "execute_tool"; with content
//                       gen_ai.tool.call.arguments, gen_ai.tool.call.result
//
// add_langfuse_attributes() derives from them, on every span:
//
//   langfuse.trace.name         = weft.flow.name
//   langfuse.session.id         = session.id     (when present)
//   langfuse.user.id            = user.id        (when present)
//   langfuse.observation.type   = langfuse_observation_type() below
//   langfuse.observation.level  = "ERROR", and
//   langfuse.observation.status_message = the status message, on failures
//   langfuse.observation.input / .output (only with langfuse_options::content)
//                               = langfuse_observation_content() below
//   langfuse.environment, langfuse.release (when configured)
//
// on model calls (observation type "generation" or "embedding"), from
// langfuse_generation_fields() below:
//
//   langfuse.observation.model.name             gen_ai.response.model, else
//                                               gen_ai.request.model
//   langfuse.observation.model.parameters       JSON object text
//   langfuse.observation.usage_details          JSON object text
//   langfuse.observation.cost_details           JSON object text (weft.llm.cost.*)
//   langfuse.observation.completion_start_time  ISO 8601 UTC, milliseconds
//
// on other spans that carry gen_ai.usage.* (an agent's sums over its calls):
//
//   langfuse.observation.usage_details = "{}", because Langfuse otherwise
//   reads gen_ai.usage.* itself, and as agents count towards trace totals
//   like generations do, every token of the agent's LLM calls (which are
//   generations of their own) would be counted twice;
//
// and on the run's root span also langfuse.trace.input / langfuse.trace.output
// (weft.inputs / weft.outputs, with content). A span that already has one of
// these keys keeps its value.
//
// Without langfuse_options::content it also removes the GenAI content
// attributes (gen_ai.input.messages, .output.messages, .system_instructions,
// .tool.call.arguments, .tool.call.result) from the spans it is given (the
// sink's copy): Langfuse shows those as input and output on its own.
//
// Putting session and user on every span (not only the root) is what
// Langfuse asks for, and what LangFlow got wrong (design invariant 2).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tracing/span.hpp"

namespace weft::tracing {

struct langfuse_options {
  /// Langfuse environment ("production", "staging"...); empty: not sent.
  std::string environment;
  /// Release (version) of the application; empty: not sent.
  std::string release;
  /// Send inputs and outputs. Off by default: they may hold user data. (weft
  /// only records them when content tracing is on, and then redacted.)
  bool content = false;
};

/// The Langfuse observation type of a span. A span's own
/// langfuse.observation.type wins; otherwise gen_ai.operation.name decides:
///
///   chat, text_completion, generate_content -> "generation"
///   embeddings                              -> "embedding"
///   invoke_agent, create_agent              -> "agent"
///   execute_tool                            -> "tool"
///   anything else, or no operation name     -> "span"
///
/// Only the operation name counts: node spans (weft.node.type "llm.chat",
/// "agent"...) stand for the node's whole execution, not for one model call,
/// and stay "span" whatever their type is called or carries.
std::string langfuse_observation_type(const span_record& span);

/// True for the observation types that describe one model call and carry a
/// model, usage and cost: "generation" and "embedding".
bool is_langfuse_model_call(std::string_view observation_type);

/// What a model call span tells Langfuse about the call. Empty strings and
/// a zero time mean "not known", and the field is not sent.
struct langfuse_generation {
  /// gen_ai.response.model (what served the call), else gen_ai.request.model.
  std::string model;
  /// JSON object text: every gen_ai.request.* attribute but the model, under
  /// its name after the prefix (temperature, top_p, max_tokens, seed...),
  /// with gen_ai.request.stop_sequences as "stop". Langfuse keeps model
  /// parameters as a flat map of strings, numbers and booleans (its ingestion
  /// schema; older servers refuse anything else), so a string array is sent
  /// as its JSON text.
  std::string model_parameters;
  /// JSON object text of token counts, with Langfuse's usage type names.
  /// Langfuse prices each key separately and sums them, so the keys must not
  /// overlap, while in the GenAI conventions the cache reads are part of
  /// gen_ai.usage.input_tokens and the reasoning tokens part of
  /// gen_ai.usage.output_tokens. Hence:
  ///   input            = input_tokens - cache_read.input_tokens (never < 0)
  ///   input_cache_read = gen_ai.usage.cache_read.input_tokens
  ///   output           = output_tokens - reasoning.output_tokens (never < 0)
  ///   output_reasoning = gen_ai.usage.reasoning.output_tokens
  ///   total            = the sum of the above (input_tokens + output_tokens)
  /// input_cache_read and output_reasoning are the names Langfuse's default
  /// model prices use for OpenAI and Anthropic cache reads and for OpenAI and
  /// Gemini reasoning tokens. Present only when input or output tokens are;
  /// negative counts are left out (Langfuse refuses them).
  std::string usage_details;
  /// JSON object text {input, output, total} of weft.llm.cost.* (USD, the
  /// flow's prices), with only the keys present; negative or non-finite
  /// costs are left out. Empty without any.
  std::string cost_details;
  /// When the first content chunk arrived: the span's start plus
  /// weft.llm.time_to_first_chunk_ms; 0 for calls that did not stream.
  std::uint64_t completion_start_unix_ns = 0;
};

/// The model call fields of `span` (meaningful for model call types only).
langfuse_generation langfuse_generation_fields(const span_record& span);

/// The input and output Langfuse should show for `span`; each absent when
/// the span has none. Only for content tracing: these are user data.
struct langfuse_content {
  std::optional<std::string> input;
  std::optional<std::string> output;
};

/// Input, by the first that the span has:
///   - gen_ai.input.messages, with gen_ai.system_instructions prepended as a
///     {"role":"system","parts":[...]} message (the instructions alone when
///     there are no messages). The conventions keep instructions apart from
///     the chat history, but Langfuse shows an input's messages as a chat,
///     and a chat without its system prompt reads wrong. Messages that are
///     not a JSON array are sent as they are, without the instructions;
///     instructions that are not a JSON array of parts become one text part;
///   - gen_ai.tool.call.arguments;
///   - weft.inputs.
/// Output: gen_ai.output.messages, else gen_ai.tool.call.result, else
/// weft.outputs.
langfuse_content langfuse_observation_content(const span_record& span);

/// True for the span that stands for the whole run: one without a parent,
/// or (when the run continued a remote traceparent) the span named after
/// the flow that is not a node.
bool is_langfuse_root(const span_record& span);

/// Adds the langfuse.* attributes above to every span of `batch` (and drops
/// the GenAI content attributes when content is off).
void add_langfuse_attributes(std::vector<span_record>& batch, const langfuse_options& options);

/// The string value of `key` on `span`, or nullptr when absent or not a
/// string. Shared by the Langfuse encoders.
const std::string* string_attribute(const span_record& span, std::string_view key);

/// True for the GenAI attributes that hold user content (messages, system
/// instructions, tool arguments and results). Shared by the encoders, which
/// send them only as input/output and only with content.
bool is_genai_content_key(std::string_view key);

}  // namespace weft::tracing
