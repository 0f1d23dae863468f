// weft attributes -> langfuse.* attributes (see langfuse_mapping.hpp).
#include "tracing/langfuse_mapping.hpp"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "tracing/otlp_json.hpp"

namespace weft::tracing {
namespace {

using nlohmann::json;

constexpr std::string_view request_prefix = "gen_ai.request.";
// A first chunk later than this after the start is not a measurement (and
// would overflow the nanosecond arithmetic long before a double runs out).
constexpr double max_time_to_first_chunk_ms = 1e9;

void set_if_absent(span_record& span, std::string_view key, attribute_value value) {
  if (!span.find(key)) span.set(std::string(key), std::move(value));
}

void copy_if_present(span_record& span, std::string_view from, std::string_view to) {
  if (const std::string* v = string_attribute(span, from)) {
    std::string copy = *v;  // set() may reallocate the attribute vector
    set_if_absent(span, to, std::move(copy));
  }
}

// Invalid UTF-8 in an attribute must not make the dump throw.
std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// A finite number, whichever numeric type the attribute was recorded as.
std::optional<double> number_attribute(const span_record& span, std::string_view key) {
  const attribute_value* v = span.find(key);
  if (!v) return std::nullopt;
  if (auto* d = std::get_if<double>(v); d && std::isfinite(*d)) return *d;
  if (auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  return std::nullopt;
}

// A token count: a non-negative integer.
std::optional<std::int64_t> count_attribute(const span_record& span, std::string_view key) {
  const auto* i = std::get_if<std::int64_t>(span.find(key));
  if (!i || *i < 0) return std::nullopt;
  return *i;
}

bool has_usage(const span_record& span) {
  return std::any_of(span.attributes.begin(), span.attributes.end(),
                     [](const attribute& a) { return a.key.starts_with("gen_ai.usage."); });
}

std::string_view trim_left(std::string_view s) {
  while (!s.empty() && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r'))
    s.remove_prefix(1);
  return s;
}

// json::accept is a non-recursive parser, so no depth of input can exhaust
// the stack; nothing here builds a tree from content (design invariant 6).
bool is_json_array(std::string_view text) {
  const std::string_view t = trim_left(text);
  return !t.empty() && t[0] == '[' && json::accept(t);
}

// The system instructions as the parts of a system message.
std::string system_message(const std::string& instructions) {
  std::string out = R"({"role":"system","parts":)";
  if (is_json_array(instructions)) {
    out += instructions;
  } else {
    out += R"([{"type":"text","content":)";
    append_json_string(out, instructions);
    out += "}]";
  }
  out += '}';
  return out;
}

std::string input_with_instructions(const std::string* messages, const std::string* instructions) {
  if (!instructions) return *messages;
  if (!messages) return '[' + system_message(*instructions) + ']';
  if (!is_json_array(*messages)) return *messages;
  // Splice the system message in after the opening bracket, so the messages
  // are copied as they are, never re-encoded.
  std::string_view rest = trim_left(*messages).substr(1);
  const bool empty = trim_left(rest).starts_with(']');
  std::string out = '[' + system_message(*instructions);
  if (!empty) out += ',';
  out += rest;
  return out;
}

// ISO 8601 UTC with milliseconds, the precision Langfuse stores.
std::string iso8601_utc_ms(std::uint64_t unix_ns) {
  const auto secs = static_cast<time_t>(unix_ns / 1000000000ULL);
  const auto millis = static_cast<unsigned>((unix_ns % 1000000000ULL) / 1000000ULL);
  tm t{};
  gmtime_r(&secs, &t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", t.tm_year + 1900,
                t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, millis);
  return buf;
}

void add_generation_attributes(span_record& span) {
  const langfuse_generation g = langfuse_generation_fields(span);
  if (!g.model.empty()) set_if_absent(span, "langfuse.observation.model.name", g.model);
  if (!g.model_parameters.empty())
    set_if_absent(span, "langfuse.observation.model.parameters", g.model_parameters);
  if (!g.usage_details.empty())
    set_if_absent(span, "langfuse.observation.usage_details", g.usage_details);
  if (!g.cost_details.empty())
    set_if_absent(span, "langfuse.observation.cost_details", g.cost_details);
  if (g.completion_start_unix_ns != 0)
    set_if_absent(span, "langfuse.observation.completion_start_time",
                  iso8601_utc_ms(g.completion_start_unix_ns));
}

}  // namespace

const std::string* string_attribute(const span_record& span, std::string_view key) {
  return std::get_if<std::string>(span.find(key));
}

bool is_genai_content_key(std::string_view key) {
  return key == "gen_ai.input.messages" || key == "gen_ai.output.messages" ||
         key == "gen_ai.system_instructions" || key == "gen_ai.tool.call.arguments" ||
         key == "gen_ai.tool.call.result";
}

std::string langfuse_observation_type(const span_record& span) {
  if (const std::string* own = string_attribute(span, "langfuse.observation.type")) return *own;
  const std::string* op = string_attribute(span, "gen_ai.operation.name");
  if (!op) return "span";
  if (*op == "chat" || *op == "text_completion" || *op == "generate_content") return "generation";
  if (*op == "embeddings") return "embedding";
  if (*op == "invoke_agent" || *op == "create_agent") return "agent";
  if (*op == "execute_tool") return "tool";
  return "span";
}

bool is_langfuse_model_call(std::string_view observation_type) {
  return observation_type == "generation" || observation_type == "embedding";
}

langfuse_generation langfuse_generation_fields(const span_record& span) {
  langfuse_generation g;
  if (const std::string* m = string_attribute(span, "gen_ai.response.model"); m && !m->empty())
    g.model = *m;
  else if (const std::string* r = string_attribute(span, "gen_ai.request.model")) g.model = *r;

  json params = json::object();
  for (const attribute& a : span.attributes) {
    if (!a.key.starts_with(request_prefix) || a.key == "gen_ai.request.model") continue;
    std::string name = a.key.substr(request_prefix.size());
    if (name == "stop_sequences") name = "stop";
    if (name.empty() || params.contains(name)) continue;  // the first one wins, as in find()
    if (auto* s = std::get_if<std::string>(&a.value)) params[name] = *s;
    else if (auto* i = std::get_if<std::int64_t>(&a.value)) params[name] = *i;
    else if (auto* d = std::get_if<double>(&a.value)) {
      if (std::isfinite(*d)) params[name] = *d;
    } else if (auto* b = std::get_if<bool>(&a.value)) params[name] = *b;
    else params[name] = dump(json(std::get<std::vector<std::string>>(a.value)));
  }
  if (!params.empty()) g.model_parameters = dump(params);

  const auto input = count_attribute(span, "gen_ai.usage.input_tokens");
  const auto output = count_attribute(span, "gen_ai.usage.output_tokens");
  if (input || output) {
    const auto cache_read = count_attribute(span, "gen_ai.usage.cache_read.input_tokens");
    const auto reasoning = count_attribute(span, "gen_ai.usage.reasoning.output_tokens");
    json usage = json::object();
    std::int64_t total = 0;
    auto put = [&](const char* key, std::int64_t n) {
      usage[key] = n;
      total += n;
    };
    if (input) put("input", std::max<std::int64_t>(*input - cache_read.value_or(0), 0));
    if (cache_read) put("input_cache_read", *cache_read);
    if (output) put("output", std::max<std::int64_t>(*output - reasoning.value_or(0), 0));
    if (reasoning) put("output_reasoning", *reasoning);
    usage["total"] = total;
    g.usage_details = dump(usage);
  }

  json cost = json::object();
  for (auto [key, name] :
       {std::pair{"weft.llm.cost.input", "input"}, std::pair{"weft.llm.cost.output", "output"},
        std::pair{"weft.llm.cost.total", "total"}})
    if (auto v = number_attribute(span, key); v && *v >= 0) cost[name] = *v;
  if (!cost.empty()) g.cost_details = dump(cost);

  if (auto ms = number_attribute(span, "weft.llm.time_to_first_chunk_ms");
      ms && *ms >= 0 && *ms <= max_time_to_first_chunk_ms && span.start_unix_ns != 0)
    g.completion_start_unix_ns =
        span.start_unix_ns + static_cast<std::uint64_t>(std::llround(*ms * 1e6));
  return g;
}

langfuse_content langfuse_observation_content(const span_record& span) {
  langfuse_content c;
  const std::string* messages = string_attribute(span, "gen_ai.input.messages");
  const std::string* instructions = string_attribute(span, "gen_ai.system_instructions");
  if (messages || instructions) c.input = input_with_instructions(messages, instructions);
  else if (const std::string* args = string_attribute(span, "gen_ai.tool.call.arguments"))
    c.input = *args;
  else if (const std::string* in = string_attribute(span, "weft.inputs")) c.input = *in;

  if (const std::string* out = string_attribute(span, "gen_ai.output.messages")) c.output = *out;
  else if (const std::string* result = string_attribute(span, "gen_ai.tool.call.result"))
    c.output = *result;
  else if (const std::string* outputs = string_attribute(span, "weft.outputs")) c.output = *outputs;
  return c;
}

bool is_langfuse_root(const span_record& span) {
  if (!span.parent.valid()) return true;
  const std::string* flow = string_attribute(span, "weft.flow.name");
  return flow && span.name == *flow && !span.find("weft.node.id");
}

void add_langfuse_attributes(std::vector<span_record>& batch, const langfuse_options& options) {
  for (span_record& span : batch) {
    copy_if_present(span, "weft.flow.name", "langfuse.trace.name");
    copy_if_present(span, "session.id", "langfuse.session.id");
    copy_if_present(span, "user.id", "langfuse.user.id");
    const std::string type = langfuse_observation_type(span);
    set_if_absent(span, "langfuse.observation.type", type);
    if (is_langfuse_model_call(type)) add_generation_attributes(span);
    else if (has_usage(span))
      set_if_absent(span, "langfuse.observation.usage_details", std::string("{}"));
    if (span.status == status_code::error) {
      set_if_absent(span, "langfuse.observation.level", std::string("ERROR"));
      if (!span.status_message.empty())
        set_if_absent(span, "langfuse.observation.status_message", span.status_message);
    }
    if (options.content) {
      langfuse_content content = langfuse_observation_content(span);
      if (content.input)
        set_if_absent(span, "langfuse.observation.input", std::move(*content.input));
      if (content.output)
        set_if_absent(span, "langfuse.observation.output", std::move(*content.output));
      if (is_langfuse_root(span)) {
        copy_if_present(span, "weft.inputs", "langfuse.trace.input");
        copy_if_present(span, "weft.outputs", "langfuse.trace.output");
      }
    } else {
      std::erase_if(span.attributes,
                    [](const attribute& a) { return is_genai_content_key(a.key); });
    }
    if (!options.environment.empty())
      set_if_absent(span, "langfuse.environment", options.environment);
    if (!options.release.empty()) set_if_absent(span, "langfuse.release", options.release);
  }
}

}  // namespace weft::tracing
