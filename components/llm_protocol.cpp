#include "components/llm_protocol.hpp"

#include <utility>
#include <vector>

#include <rapidjson/document.h>

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

// The same as string_or_empty, on a RapidJSON value (the stream's chunks).
std::string_view string_or_empty(const rapidjson::Value& v, const char* key) {
  auto i = v.FindMember(key);
  if (i == v.MemberEnd() || !i->value.IsString()) return {};
  return {i->value.GetString(), i->value.GetStringLength()};
}

// flows::value_depth's rule on a RapidJSON value: containers count, scalars
// do not; stops counting at `stop_at`. An explicit stack, no recursion.
std::size_t json_depth(const rapidjson::Value& v, std::size_t stop_at) {
  std::size_t deepest = 0;
  std::vector<std::pair<const rapidjson::Value*, std::size_t>> todo{{&v, 0}};
  while (!todo.empty()) {
    auto [x, d] = todo.back();
    todo.pop_back();
    if (d + 1 > deepest) deepest = d + 1;
    if (deepest >= stop_at) return stop_at;
    if (x->IsObject()) {
      for (const auto& m : x->GetObject())
        if (m.value.IsObject() || m.value.IsArray()) todo.emplace_back(&m.value, d + 1);
    } else {
      for (const auto& e : x->GetArray())
        if (e.IsObject() || e.IsArray()) todo.emplace_back(&e, d + 1);
    }
  }
  return deepest;
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
    b["response_format"] = {
        {"type", "json_schema"},
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

std::optional<std::string> parse_chat_reply(std::string_view body, std::size_t max_depth,
                                            chat_reply& out) {
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
  // RapidJSON, not nlohmann, for the chunks: a streamed reply is one JSON
  // document per token, and parsing them was a fifth of `weft serve`'s CPU
  // under streaming load (weft_stream_bench, bench/RESULTS.md). Iterative,
  // so that nesting cannot exhaust the stack; UTF-8 checked, as nlohmann
  // checks it. The first bytes of the tree live on this stack frame.
  char first_chunk[4096];
  rapidjson::MemoryPoolAllocator<> pool(first_chunk, sizeof first_chunk);
  rapidjson::Document v(&pool);
  v.Parse<rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag>(data.data(),
                                                                                  data.size());
  if (v.HasParseError() || !v.IsObject()) {
    error_ =
        "malformed stream: an event's data is not a JSON object: " + error_message_of(data, 120);
    return step::failed;
  }
  if (json_depth(v, max_depth_ + 1) > max_depth_) {
    error_ =
        "malformed stream: a chunk nests deeper than " + std::to_string(max_depth_) + " levels";
    return step::failed;
  }
  if (auto e = v.FindMember("error"); e != v.MemberEnd() && !e->value.IsNull()) {
    error_ = "the server sent an error in the stream: " + error_message_of(data);
    return step::failed;
  }
  if (auto s = string_or_empty(v, "id"); !s.empty()) reply_.id = std::string(s);
  if (auto s = string_or_empty(v, "model"); !s.empty()) reply_.model = std::string(s);
  // Usage comes once, in the last chunk: read through the shared code.
  if (auto u = v.FindMember("usage"); u != v.MemberEnd() && u->value.IsObject()) {
    const value whole = value::parse(data, nullptr, false);
    if (whole.is_object() && whole.contains("usage")) read_usage(whole["usage"], reply_.usage);
  }
  auto choices = v.FindMember("choices");
  if (choices == v.MemberEnd() || !choices->value.IsArray() || choices->value.Empty())
    return step::more;
  const auto& c = choices->value[0];
  if (!c.IsObject()) return step::more;
  if (auto f = string_or_empty(c, "finish_reason"); !f.empty())
    reply_.finish_reason = std::string(f);
  auto d = c.FindMember("delta");
  if (d == c.MemberEnd() || !d->value.IsObject()) return step::more;
  if (auto t = d->value.FindMember("content"); t != d->value.MemberEnd() && t->value.IsString()) {
    delta.assign(t->value.GetString(), t->value.GetStringLength());
    content_ += delta;
    has_content_ = true;
  }
  if (auto calls = d->value.FindMember("tool_calls");
      calls != d->value.MemberEnd() && calls->value.IsArray()) {
    for (const auto& frag : calls->value.GetArray()) {
      if (!frag.IsObject()) continue;
      std::int64_t index = 0;
      if (auto i = frag.FindMember("index"); i != frag.MemberEnd() && i->value.IsInt64())
        index = i->value.GetInt64();
      if (index < 0 || index >= max_tool_calls) {
        error_ = "malformed stream: tool call index " + std::to_string(index) + " is out of range";
        return step::failed;
      }
      auto& list = reply_.tool_calls;
      while (static_cast<std::int64_t>(list.size()) <= index)
        list.push_back(
            {{"id", ""}, {"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}});
      value& call = list[static_cast<std::size_t>(index)];
      if (auto s = string_or_empty(frag, "id"); !s.empty()) call["id"] = std::string(s);
      if (auto f = frag.FindMember("function"); f != frag.MemberEnd() && f->value.IsObject()) {
        if (auto s = string_or_empty(f->value, "name"); !s.empty())
          call["function"]["name"].get_ref<std::string&>() += s;
        if (auto s = string_or_empty(f->value, "arguments"); !s.empty())
          call["function"]["arguments"].get_ref<std::string&>() += s;
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
