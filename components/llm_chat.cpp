// The `llm.chat` node type: one chat completion from an OpenAI-compatible
// server (OpenAI, vLLM, llama.cpp's server, Ollama).
//
//   summarise:
//     type: llm.chat
//     params:
//       model: gpt-4o-mini
//       base_url: http://127.0.0.1:8080/v1       # default: $OPENAI_BASE_URL, else OpenAI
//       temperature: 0.2
//       stream: true                              # content deltas become chunk events
//       response_format: {schema: {type: object, required: [title]}, name: summary}
//       retry_invalid: 1                          # ask again once if the reply does not validate
//       price_per_mtok: {input: 0.15, output: 0.6}
//     inputs: {prompt: $inputs.text, system: $inputs.style}
//
// Inputs: `prompt` (a string) or `messages` (chat messages), optional
// `system` (put first), `tools` (function tools for this run) and `model`
// (overrides the param for this run: one flow, several models).
// Outputs: text, message (the assistant message), tool_calls, usage
// {input_tokens, output_tokens, total_tokens}, finish_reason, and `json`
// (the parsed reply) with response_format. The call and its spans:
// components/llm_call.hpp.
#include "components/llm_call.hpp"
#include "components/register.hpp"

namespace weft::components {
namespace {

using namespace flows;

// Builds the transcript from the node's inputs; an error text when they
// do not make one.
std::optional<std::string> transcript(const value_map& in, value& messages) {
  messages = value::array();
  if (auto s = in.find("system"); s != in.end() && !s->second.is_null()) {
    if (!s->second.is_string())
      return "input 'system' must be a string, got " + std::string(s->second.type_name());
    messages.push_back({{"role", "system"}, {"content", s->second}});
  }
  auto m = in.find("messages");
  auto p = in.find("prompt");
  const bool has_m = m != in.end() && !m->second.is_null();
  const bool has_p = p != in.end() && !p->second.is_null();
  if (has_m == has_p)
    return has_m ? "give either input 'prompt' or input 'messages', not both"
                 : "give input 'prompt' (a string) or input 'messages' (a list of chat messages)";
  if (has_p) {
    if (!p->second.is_string())
      return "input 'prompt' must be a string, got " + std::string(p->second.type_name());
    messages.push_back({{"role", "user"}, {"content", p->second}});
    return std::nullopt;
  }
  if (!m->second.is_array()) return "input 'messages' must be a list of chat messages";
  for (std::size_t i = 0; i < m->second.size(); ++i) {
    const value& msg = m->second[i];
    if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
      return "input 'messages': message " + std::to_string(i) + " needs a string 'role'";
    messages.push_back(msg);
  }
  return std::nullopt;
}

class llm_chat_component final : public component {
 public:
  explicit llm_chat_component(llm_settings s) : s_(std::move(s)) {}

  void start(node_context& ctx, value_map inputs) const override {
    auto st = std::make_shared<state>();
    if (auto why = transcript(inputs, st->messages))
      return ctx.fail("llm.chat: " + *why, "llm.input");
    if (auto s = inputs.find("system"); s != inputs.end() && !s->second.is_null())
      st->system_first = true;
    if (auto m = model_input(inputs, st->model)) return ctx.fail("llm.chat: " + *m, "llm.input");
    if (auto t = inputs.find("tools"); t != inputs.end() && !t->second.is_null()) {
      if (auto why = normalise_tools(t->second, st->tools))
        return ctx.fail("llm.chat: input 'tools': " + *why, "llm.input");
    }
    st->asks_left = s_.retry_invalid;
    call(ctx, st);
  }

 private:
  struct state {
    value messages;
    value tools = value::array();
    bool system_first = false;  // messages[0] is the `system` input
    std::string model;          // the `model` input; empty: the param
    chat_usage usage;
    int asks_left = 0;
  };

  void call(node_context& ctx, const std::shared_ptr<state>& st) const {
    // `ctx` outlives every callback that runs (they stop when the node ends).
    llm_call_options o;
    o.system_first = st->system_first;
    o.model = st->model;
    llm_chat_call(
        ctx, s_, st->messages, st->tools, std::move(o), [this, &ctx, st](const llm_call_result& r) {
          if (!r.ok) return ctx.fail("llm.chat: " + r.error, r.error_type);
          st->usage += r.reply.usage;
          value json;
          if (s_.schema) {
            std::string problem;
            json = value::parse(r.reply.text, nullptr, false);
            if (json.is_discarded()) problem = "the reply is not JSON";
            else if (flows::value_depth(json, s_.max_depth + 1) > s_.max_depth)
              problem = "the reply nests deeper than " + std::to_string(s_.max_depth) + " levels";
            else problem = s_.schema->validate(json);
            if (!problem.empty()) {
              if (st->asks_left-- > 0) {
                // Ask again, showing the model its reply and what was wrong.
                st->messages.push_back(r.reply.message);
                st->messages.push_back(
                    {{"role", "user"},
                     {"content", "Your reply does not match the required JSON Schema (" + problem +
                                     "). Answer again with JSON only."}});
                return call(ctx, st);
              }
              return ctx.fail("llm.chat: " + problem + " (response_format '" +
                                  s_.request.schema_name + "', after " +
                                  std::to_string(s_.retry_invalid + 1) + " ask(s))",
                              "llm.schema");
            }
          }
          value_map out;
          out["text"] = r.reply.text;
          out["message"] = r.reply.message;
          out["tool_calls"] = r.reply.tool_calls;
          out["usage"] = st->usage.to_value();
          out["finish_reason"] = r.reply.finish_reason;
          if (s_.schema) out["json"] = std::move(json);
          ctx.complete(std::move(out));
        });
  }

  llm_settings s_;
};

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  llm_settings s;
  if (!read_llm_settings(n, svc, errs, s)) return nullptr;
  return std::make_shared<llm_chat_component>(std::move(s));
}

}  // namespace

void register_llm_chat(flows::registry& r) {
  component_descriptor d;
  d.type = "llm.chat";
  d.summary =
      "One chat completion from an OpenAI-compatible server: streaming, tools, structured output; "
      "a GenAI `chat {model}` span.";
  d.inputs = {{"prompt", false},
              {"messages", false},
              {"system", false},
              {"tools", false},
              {"model", false}};
  d.outputs = {"text", "message", "tool_calls", "usage", "finish_reason", "json"};
  d.params = llm_param_specs();
  d.make = make;
  d.opens_spans = true;  // chat {model}, and an HTTP POST per attempt under it
  d.outputs_of = [](const node_spec& n) -> std::optional<std::vector<std::string>> {
    std::vector<std::string> out = {"text", "message", "tool_calls", "usage", "finish_reason"};
    if (n.params.contains("response_format")) out.emplace_back("json");
    return out;
  };
  r.add(std::move(d));
}

}  // namespace weft::components
