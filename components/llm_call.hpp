// One chat call to an OpenAI-compatible server, as `llm.chat` and `agent`
// make it: the params both read, and the call itself (attempts, retries,
// streaming, and its spans), all on the node's actor without blocking.
//
// Spans: one CLIENT span `chat {model}` per call, under the span the caller
// names (the node's, or an agent's `invoke_agent`), with the GenAI semantic
// conventions v1.41.1 attributes:
//
//   gen_ai.operation.name = chat, gen_ai.provider.name, gen_ai.request.model,
//   gen_ai.request.{temperature, top_p, max_tokens, seed, stop_sequences} (those set),
//   gen_ai.response.{id, model, finish_reasons},
//   gen_ai.usage.{input_tokens, output_tokens}, and
//   gen_ai.usage.{cache_read.input_tokens, reasoning.output_tokens} when the reply has them,
//   server.address, server.port, error.type (on failure),
//   gen_ai.input.messages, gen_ai.output.messages, gen_ai.system_instructions
//     (with content tracing only; parts format, masked like every string;
//     the `system` input is the system instructions),
//   weft.llm.cost.{input, output, total} (with price_per_mtok),
//   weft.llm.time_to_first_chunk_ms (streams).
//
// Under it, one CLIENT span `HTTP POST` per attempt, so retries show.
//
// The API key goes out in the Authorization header only: it is registered
// as a secret of the flow, so every run masks it wherever it might turn up.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "components/json_schema.hpp"
#include "components/llm_protocol.hpp"
#include "components/llm_retry.hpp"
#include "flows/component.hpp"

namespace weft::components {

/// The params of a chat call, read once per node at load.
struct llm_settings {
  chat_request_params request;
  std::string url;      // base_url + "/chat/completions"
  std::string api_key;  // empty: no Authorization header
  std::string provider = "openai";
  std::string host;
  std::int64_t port = 0;
  std::int64_t timeout_ms = 600000;
  llm_retry_policy retry;
  value tools = value::array();       // OpenAI function tools, normalised
  std::optional<double> price_input;  // per million tokens
  std::optional<double> price_output;
  std::shared_ptr<const json_schema> schema;  // with response_format
  int retry_invalid = 0;
  bool content = false;  // content tracing: messages on the spans
  std::size_t max_depth = 64;
};

/// The params `llm.chat` and `agent` share, for their descriptors.
std::vector<flows::param_spec> llm_param_specs();

/// Reads those params (and OPENAI_BASE_URL / OPENAI_API_KEY from `svc.env`
/// when they are not given). False, with one diagnostic per problem at its
/// line, when a param is wrong.
bool read_llm_settings(const flows::node_spec& n, const flows::component_services& svc,
                       flows::diagnostics& errs, llm_settings& out);

/// Normalises function tools: [{type: function, function: {name, description,
/// parameters}}] or the short form [{name, description, parameters}].
/// Returns an error text, or nullopt.
std::optional<std::string> normalise_tools(const value& in, value& out);

struct llm_call_result {
  bool ok = false;
  chat_reply reply;
  std::string error;       // when not ok
  std::string error_type;  // "429", "timeout", "truncated_stream", ...
};

/// How one call differs from the node's params.
struct llm_call_options {
  /// The span the chat span goes under; inert: the node's span.
  span parent;
  /// messages[0] is a system prompt given on its own (the `system` input),
  /// which the span shows as gen_ai.system_instructions.
  bool system_first = false;
  /// The model for this call (the node's `model` input); empty: the param.
  std::string model;
};

/// Makes one chat call with `messages` and `tools` (empty: the settings');
/// `done` runs once, on the node's actor, unless the node ends first.
/// Content deltas of a stream go to the run's observer as chunk events (the
/// delta text).
void llm_chat_call(node_context& ctx, const llm_settings& s, const value& messages,
                   const value& tools, llm_call_options opts,
                   std::function<void(llm_call_result)> done);

/// The node's `model` input, when connected: the model for this run. An
/// error text when it is not a non-empty string.
std::optional<std::string> model_input(const value_map& in, std::string& model);

/// The cost of `u` at the settings' prices, when both are given.
std::optional<double> llm_cost(const llm_settings& s, const chat_usage& u);

}  // namespace weft::components
