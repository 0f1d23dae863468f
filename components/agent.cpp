// The `agent` node type: a tool-calling loop over the chat call of
// llm_call.hpp, whose tools are flows.
//
//   helper:
//     type: agent
//     params:
//       model: gpt-4o-mini
//       name: support                      # gen_ai.agent.name (default: the node id)
//       max_steps: 10                      # model calls before giving up
//       tools:
//         - {name: weather, description: Weather for a city, flow: ./weather.yaml}
//         - {name: add, flow: {inputs: {a: {type: number}, b: {type: number}},
//                              nodes: {...}, outputs: {sum: ...}}}
//     inputs: {prompt: $inputs.question}
//
// Each tool's JSON Schema for the model comes from its flow's declared
// inputs: their types, and `required` for those without a default. A step
// asks the model; when the reply calls tools, every call runs as a child run
// of this node (in parallel when there are several) and its outputs go back
// as a `role: tool` message (the outputs as a JSON object). The loop ends
// with the first reply that calls no tool, or fails after max_steps model
// calls. A call with arguments that do not parse or do not fit the schema,
// or to a tool that does not exist, is not a crash: the model gets the
// problem as the tool's answer, and weft.agent.tool_errors counts it. A tool
// run that fails is answered the same way (weft.agent.tool_failures).
//
// Spans: `invoke_agent {name}` (INTERNAL) under the node's span; under it a
// `chat {model}` span per step and an `execute_tool {tool}` span per call
// (gen_ai.tool.name, gen_ai.tool.call.id, and with content tracing the
// arguments and the result); under each execute_tool, the tool flow's run.
//
// Inputs: `prompt` or `messages`, optional `system` and `model` (as
// llm.chat's).
//
// Outputs: text (the final answer), messages (the whole transcript), steps
// (model calls made) and usage (summed over the steps).
#include "components/child_flow.hpp"
#include "components/llm_call.hpp"
#include "components/register.hpp"

namespace weft::components {
namespace {

using namespace flows;

struct tool_def {
  std::string name;
  std::shared_ptr<const plan> flow;
  std::shared_ptr<const json_schema> arguments;  // from the flow's declared inputs
};

// The JSON Schema of a flow's declared inputs, as the model sees it.
value inputs_schema(const plan& p) {
  value props = value::object();
  value required = value::array();
  for (const input_decl& d : p.spec.inputs) {
    value prop = value::object();
    // The flow's types are JSON Schema's names; `any` constrains nothing.
    if (d.type != value_type::any) prop["type"] = to_string(d.type);
    if (d.default_value) prop["default"] = *d.default_value;
    else required.push_back(d.name);
    props[d.name] = std::move(prop);
  }
  value s = {{"type", "object"}, {"properties", std::move(props)}, {"additionalProperties", false}};
  if (!required.empty()) s["required"] = std::move(required);
  return s;
}

std::string text_of(const value& v) {
  return v.dump(-1, ' ', false, value::error_handler_t::replace);
}

struct agent_settings {
  llm_settings llm;  // `tools` stays empty: the tools are flows
  std::string name;
  std::int64_t max_steps = 10;
  std::vector<tool_def> tools;
  value tool_specs = value::array();  // what the model is told
};

class agent_component final : public component {
 public:
  explicit agent_component(agent_settings s) : s_(std::move(s)) {}

  void start(node_context& ctx, value_map inputs) const override {
    auto st = std::make_shared<state>();
    st->messages = value::array();
    if (auto s = inputs.find("system"); s != inputs.end() && !s->second.is_null()) {
      if (!s->second.is_string())
        return ctx.fail("agent: input 'system' must be a string", "agent.input");
      st->messages.push_back({{"role", "system"}, {"content", s->second}});
      st->system_first = true;
    }
    auto p = inputs.find("prompt");
    auto m = inputs.find("messages");
    const bool has_p = p != inputs.end() && !p->second.is_null();
    const bool has_m = m != inputs.end() && !m->second.is_null();
    if (has_p == has_m)
      return ctx.fail(
          has_p ? "agent: give either input 'prompt' or input 'messages', not both"
                : "agent: give input 'prompt' (a string) or input 'messages' (chat messages)",
          "agent.input");
    if (has_p) {
      if (!p->second.is_string())
        return ctx.fail("agent: input 'prompt' must be a string", "agent.input");
      st->messages.push_back({{"role", "user"}, {"content", p->second}});
    } else {
      if (!m->second.is_array())
        return ctx.fail("agent: input 'messages' must be a list", "agent.input");
      for (const value& msg : m->second) {
        if (!msg.is_object() || !msg.contains("role") || !msg["role"].is_string())
          return ctx.fail("agent: input 'messages': every message needs a string 'role'",
                          "agent.input");
        st->messages.push_back(msg);
      }
    }
    if (auto why = model_input(inputs, st->model)) return ctx.fail("agent: " + *why, "agent.input");
    st->agent = ctx.start_span("invoke_agent " + s_.name);
    st->agent.set("gen_ai.operation.name", "invoke_agent");
    st->agent.set("gen_ai.agent.name", s_.name);
    st->agent.set("gen_ai.provider.name", s_.llm.provider);
    st->agent.set("gen_ai.request.model", st->model.empty() ? s_.llm.request.model : st->model);
    step(ctx, st);
  }

 private:
  struct state {
    value messages;
    span agent;
    bool system_first = false;  // messages[0] is the `system` input
    std::string model;          // the `model` input; empty: the param
    chat_usage usage;
    std::int64_t steps = 0;
    std::int64_t tool_errors = 0;    // bad arguments, unknown tools
    std::int64_t tool_failures = 0;  // tool runs that failed
    // The calls of the current step: their answers, in the order asked.
    std::vector<value> answers;
    std::size_t pending = 0;
  };

  void finish_span(state& st, const std::string& error = {}) const {
    st.agent.set("gen_ai.usage.input_tokens", st.usage.input);
    st.agent.set("gen_ai.usage.output_tokens", st.usage.output);
    st.agent.set("weft.agent.steps", st.steps);
    st.agent.set("weft.agent.tool_errors", st.tool_errors);
    st.agent.set("weft.agent.tool_failures", st.tool_failures);
    if (!error.empty()) st.agent.status(span_status::error, error);
    st.agent.end();
  }

  void step(node_context& ctx, const std::shared_ptr<state>& st) const {
    if (st->steps >= s_.max_steps) {
      std::string why = "agent '" + s_.name + "': no final answer after " +
                        std::to_string(s_.max_steps) +
                        " model call(s) (max_steps); the model kept calling tools";
      st->agent.set("error.type", "max_steps");
      finish_span(*st, why);
      return ctx.fail(why, "agent.max_steps");
    }
    ++st->steps;
    llm_call_options o;
    o.parent = st->agent;
    o.system_first = st->system_first;
    o.model = st->model;
    llm_chat_call(ctx, s_.llm, st->messages, s_.tool_specs, std::move(o),
                  [this, &ctx, st](llm_call_result r) {
                    if (!r.ok) {
                      st->agent.set("error.type", r.error_type);
                      finish_span(*st, r.error);
                      return ctx.fail("agent '" + s_.name + "': step " + std::to_string(st->steps) +
                                          ": " + r.error,
                                      r.error_type);
                    }
                    st->usage += r.reply.usage;
                    st->messages.push_back(r.reply.message);
                    if (r.reply.tool_calls.empty()) {
                      finish_span(*st);
                      value_map out;
                      out["text"] = r.reply.text;
                      out["messages"] = st->messages;
                      out["steps"] = st->steps;
                      out["usage"] = st->usage.to_value();
                      return ctx.complete(std::move(out));
                    }
                    st->answers.assign(r.reply.tool_calls.size(), value());
                    st->pending = r.reply.tool_calls.size();
                    for (std::size_t i = 0; i < r.reply.tool_calls.size(); ++i)
                      call_tool(ctx, st, i, r.reply.tool_calls[i]);
                  });
  }

  // Runs tool call `i` of this step; its answer lands in st->answers[i].
  void call_tool(node_context& ctx, const std::shared_ptr<state>& st, std::size_t i,
                 const value& call) const {
    const std::string id = call.value("id", std::string{});
    std::string name, args_text;
    if (auto f = call.find("function"); f != call.end() && f->is_object()) {
      name = f->value("name", std::string{});
      args_text = f->value("arguments", std::string{});
    }
    auto sp = st->agent.child("execute_tool " + name);
    sp.set("gen_ai.operation.name", "execute_tool");
    sp.set("gen_ai.tool.name", name);
    sp.set("gen_ai.tool.call.id", id);
    sp.set("gen_ai.tool.type", "function");
    if (s_.llm.content) sp.set("gen_ai.tool.call.arguments", args_text);
    auto answer = [this, &ctx, st, i, id, sp](std::string content) mutable {
      if (s_.llm.content) sp.set("gen_ai.tool.call.result", content);
      sp.end();
      st->answers[i] = {{"role", "tool"}, {"tool_call_id", id}, {"content", std::move(content)}};
      if (--st->pending == 0) {
        for (auto& a : st->answers) st->messages.push_back(std::move(a));
        st->answers.clear();
        step(ctx, st);
      }
    };
    auto refuse = [&](const std::string& why, const char* type) {
      ++st->tool_errors;
      sp.set("error.type", type);
      sp.status(span_status::error, why);
      answer("error: " + why);
    };
    const tool_def* tool = nullptr;
    for (auto& t : s_.tools)
      if (t.name == name) tool = &t;
    if (!tool) {
      std::string names;
      for (auto& t : s_.tools) names += (names.empty() ? "" : ", ") + t.name;
      return refuse("there is no tool '" + name + "'; the tools are: " + names, "unknown_tool");
    }
    value args = args_text.empty() ? value::object() : value::parse(args_text, nullptr, false);
    if (args.is_discarded() || !args.is_object())
      return refuse("the arguments of '" + name + "' must be a JSON object", "invalid_arguments");
    if (flows::value_depth(args, s_.llm.max_depth + 1) > s_.llm.max_depth)
      return refuse("the arguments of '" + name + "' nest too deep", "invalid_arguments");
    if (auto problem = tool->arguments->validate(args); !problem.empty())
      return refuse("the arguments of '" + name + "' do not fit its schema: " + problem,
                    "invalid_arguments");
    child_run run;
    run.flow = tool->flow;
    for (auto& [k, v] : args.items()) run.inputs[k] = v;
    run.attributes = {{"gen_ai.tool.call.id", id}};
    run.label = name + "#" + id;
    run.under = sp;
    ctx.run_child(std::move(run), [st, sp, answer, name](const child_result& r) mutable {
      if (r.ok) return answer(text_of(to_object(r.outputs)));
      ++st->tool_failures;
      sp.set("error.type", "tool_failed");
      sp.status(span_status::error, r.error);
      answer("error: the tool '" + name + "' failed: " + r.error);
    });
  }

  agent_settings s_;
};

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  agent_settings s;
  // The chat params are llm.chat's; `tools` here are flows, read below.
  node_spec chat_part = n;
  chat_part.params.erase("tools");
  bool ok = read_llm_settings(chat_part, svc, errs, s.llm);
  if (s.llm.schema) {
    errs.push_back({param_at(n, "response_format"),
                    "node '" + n.id +
                        "': param 'response_format': an agent answers in text; use an "
                        "llm.chat node after it for structured output"});
    ok = false;
  }
  s.name = n.params.value("name", n.id);
  s.max_steps = int_param(n, "max_steps", 10, 1, 100, errs, ok);
  const source_loc at = param_at(n, "tools");
  auto tools = n.params.find("tools");
  if (tools == n.params.end() || !tools->is_array() || tools->empty()) {
    errs.push_back({at, "node '" + n.id +
                            "': param 'tools' must list the agent's tools: "
                            "[{name, description, flow}]"});
    return nullptr;
  }
  for (std::size_t i = 0; i < tools->size(); ++i) {
    const value& t = (*tools)[i];
    const std::string where =
        "node '" + n.id + "': param 'tools': tool " + std::to_string(i) + ": ";
    if (!t.is_object() || !t.contains("name") || !t["name"].is_string() || !t.contains("flow")) {
      errs.push_back({at, where + "want {name, description, flow}"});
      ok = false;
      continue;
    }
    tool_def d;
    d.name = t["name"].get<std::string>();
    for (auto& other : s.tools)
      if (other.name == d.name) {
        errs.push_back({at, where + "the name '" + d.name + "' is used twice"});
        ok = false;
      }
    d.flow = flow_ref(n, t["flow"], at, "tool '" + d.name + "'", svc, errs);
    if (!d.flow) {
      ok = false;
      continue;
    }
    value schema = inputs_schema(*d.flow);
    std::string why;
    d.arguments = json_schema::compile(schema, why);
    if (!d.arguments) {
      errs.push_back({at, where + "its inputs make no JSON Schema: " + why});
      ok = false;
      continue;
    }
    value fn = {{"name", d.name}, {"parameters", schema}};
    if (auto desc = t.find("description"); desc != t.end() && desc->is_string())
      fn["description"] = *desc;
    else if (!d.flow->spec.description.empty()) fn["description"] = d.flow->spec.description;
    s.tool_specs.push_back({{"type", "function"}, {"function", std::move(fn)}});
    s.tools.push_back(std::move(d));
  }
  if (!ok) return nullptr;
  return std::make_shared<agent_component>(std::move(s));
}

}  // namespace

void register_agent(flows::registry& r) {
  component_descriptor d;
  d.type = "agent";
  d.summary =
      "A tool-calling loop over an OpenAI-compatible chat model whose tools are flows; "
      "an invoke_agent span with a chat span per step and an execute_tool span per call.";
  d.inputs = {{"prompt", false}, {"messages", false}, {"system", false}, {"model", false}};
  d.outputs = {"text", "messages", "steps", "usage"};
  d.params = llm_param_specs();
  d.params.push_back({"name", value_type::string, false});
  d.params.push_back({"max_steps", value_type::integer, false});
  d.make = make;
  d.runs_children = true;
  r.add(std::move(d));
}

}  // namespace weft::components
