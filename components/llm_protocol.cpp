#include "components/llm_protocol.hpp"

#include "flows/value.hpp"

namespace weft::components {
namespace {

// More tool calls than this in one reply is a broken server, not a plan.
constexpr std::int64_t max_tool_calls = 128;

std::string string_or_empty(const value& v, const char* key) {
  auto i = v.find(key);
  return i != v.end() && i->is_string() ? i->get<std::string>() : std::string{};
}

std::optional<std::int64_t> int_at(const value& v, const char* key) {
  auto i = v.find(key);
  if (i == v.end() || !i->is_number_integer()) return std::nullopt;
  return i->get<std::int64_t>();
}

void read_usage(const value& u, chat_usage& out) {
  if (!u.is_object()) return;
  out.present = true;
  out.input = int_at(u, "prompt_tokens").value_or(0);
  out.output = int_at(u, "completion_tokens").value_or(0);
  if (auto d = u.find("prompt_tokens_details"); d != u.end() && d->is_object())
    out.cache_read = int_at(*d, "cached_tokens");
  if (auto d = u.find("completion_tokens_details"); d != u.end() && d->is_object())
    out.reasoning = int_at(*d, "reasoning_tokens");
}

void finish_message(chat_reply& r, bool has_content) {
  r.message = value::object();
  r.message["role"] = "assistant";
  r.message["content"] = has_content ? value(r.text) : value(nullptr);
  if (!r.tool_calls.empty()) r.message["tool_calls"] = r.tool_calls;
}

}  // namespace

value chat_request_body(const chat_request_params& p, const value& messages, const value& tools) {
  value b = value::object();
  b["model"] = p.model;
  b["messages"] = messages;
  if (p.temperature) b["temperature"] = *p.temperature;
  if (p.top_p) b["top_p"] = *p.top_p;
  if (p.max_tokens) b[p.max_tokens_field] = *p.max_tokens;
  if (!p.stop.empty()) b["stop"] = p.stop;
  if (p.seed) b["seed"] = *p.seed;
  if (!p.schema.is_null())
    b["response_format"] = {{"type", "json_schema"},
                            {"json_schema",
                             {{"name", p.schema_name}, {"schema", p.schema}, {"strict", p.schema_strict}}}};
  if (tools.is_array() && !tools.empty()) b["tools"] = tools;
  if (p.stream) {
    b["stream"] = true;
    b["stream_options"] = {{"include_usage", true}};
  }
  return b;
}

chat_usage& chat_usage::operator+=(const chat_usage& o) {
  input += o.input;
  output += o.output;
  if (o.cache_read) cache_read = cache_read.value_or(0) + *o.cache_read;
  if (o.reasoning) reasoning = reasoning.value_or(0) + *o.reasoning;
  present = present || o.present;
  return *this;
}

value chat_usage::to_value() const {
  return {{"input_tokens", input}, {"output_tokens", output}, {"total_tokens", input + output}};
}

std::optional<std::string> parse_chat_reply(std::string_view body, std::size_t max_depth, chat_reply& out) {
  value v = value::parse(body, nullptr, false);
  if (v.is_discarded()) return "the reply is not JSON: " + error_message_of(body, 120);
  if (flows::value_depth(v, max_depth + 1) > max_depth)
    return "the reply nests deeper than " + std::to_string(max_depth) + " levels";
  if (!v.is_object()) return "the reply is not a JSON object";
  auto choices = v.find("choices");
  if (choices == v.end() || !choices->is_array() || choices->empty() || !(*choices)[0].is_object())
    return "the reply has no choices: " + error_message_of(body, 200);
  const value& c = (*choices)[0];
  out.id = string_or_empty(v, "id");
  out.model = string_or_empty(v, "model");
  out.finish_reason = string_or_empty(c, "finish_reason");
  if (auto u = v.find("usage"); u != v.end()) read_usage(*u, out.usage);
  bool has_content = false;
  if (auto m = c.find("message"); m != c.end() && m->is_object()) {
    if (auto t = m->find("content"); t != m->end() && t->is_string()) {
      out.text = t->get<std::string>();
      has_content = true;
    }
    if (auto t = m->find("tool_calls"); t != m->end() && t->is_array()) out.tool_calls = *t;
  }
  finish_message(out, has_content);
  return std::nullopt;
}

chat_stream::step chat_stream::add(std::string_view data, std::string& delta) {
  delta.clear();
  if (done_) return step::done;
  if (data == "[DONE]") {
    done_ = true;
    return step::done;
  }
  value v = value::parse(data, nullptr, false);
  if (v.is_discarded() || !v.is_object()) {
    error_ = "malformed stream: an event's data is not a JSON object: " + error_message_of(data, 120);
    return step::failed;
  }
  if (flows::value_depth(v, max_depth_ + 1) > max_depth_) {
    error_ = "malformed stream: a chunk nests deeper than " + std::to_string(max_depth_) + " levels";
    return step::failed;
  }
  if (auto e = v.find("error"); e != v.end() && !e->is_null()) {
    error_ = "the server sent an error in the stream: " + error_message_of(data);
    return step::failed;
  }
  if (auto s = string_or_empty(v, "id"); !s.empty()) reply_.id = s;
  if (auto s = string_or_empty(v, "model"); !s.empty()) reply_.model = s;
  if (auto u = v.find("usage"); u != v.end() && u->is_object()) read_usage(*u, reply_.usage);
  auto choices = v.find("choices");
  if (choices == v.end() || !choices->is_array() || choices->empty()) return step::more;
  const value& c = (*choices)[0];
  if (!c.is_object()) return step::more;
  if (auto f = string_or_empty(c, "finish_reason"); !f.empty()) reply_.finish_reason = f;
  auto d = c.find("delta");
  if (d == c.end() || !d->is_object()) return step::more;
  if (auto t = d->find("content"); t != d->end() && t->is_string()) {
    delta = t->get<std::string>();
    content_ += delta;
    has_content_ = true;
  }
  if (auto calls = d->find("tool_calls"); calls != d->end() && calls->is_array()) {
    for (const value& frag : *calls) {
      if (!frag.is_object()) continue;
      auto index = int_at(frag, "index").value_or(0);
      if (index < 0 || index >= max_tool_calls) {
        error_ = "malformed stream: tool call index " + std::to_string(index) + " is out of range";
        return step::failed;
      }
      auto& list = reply_.tool_calls;
      while (static_cast<std::int64_t>(list.size()) <= index)
        list.push_back({{"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}});
      value& call = list[static_cast<std::size_t>(index)];
      if (auto s = string_or_empty(frag, "id"); !s.empty()) call["id"] = s;
      if (auto f = frag.find("function"); f != frag.end() && f->is_object()) {
        if (auto s = string_or_empty(*f, "name"); !s.empty())
          call["function"]["name"] = call["function"]["name"].get<std::string>() + s;
        if (auto s = string_or_empty(*f, "arguments"); !s.empty())
          call["function"]["arguments"] = call["function"]["arguments"].get<std::string>() + s;
      }
    }
  }
  return step::more;
}

chat_reply chat_stream::take() {
  chat_reply r = std::move(reply_);
  r.text = std::move(content_);
  finish_message(r, has_content_);
  reply_ = chat_reply{};
  content_.clear();
  return r;
}

std::string error_message_of(std::string_view body, std::size_t limit) {
  value v = value::parse(body, nullptr, false);
  if (!v.is_discarded() && v.is_object()) {
    auto e = v.find("error");
    if (e != v.end() && e->is_object()) {
      auto m = e->find("message");
      if (m != e->end() && m->is_string()) return m->get<std::string>().substr(0, limit);
    }
    if (e != v.end() && e->is_string()) return e->get<std::string>().substr(0, limit);
  }
  return std::string(body.substr(0, limit));
}

}  // namespace weft::components
