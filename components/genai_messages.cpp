#include "components/genai_messages.hpp"

#include <string_view>

namespace weft::components {
namespace {

// The string at `key` of object `v`, or null when absent or not a string.
const std::string* string_at(const value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  auto it = v.find(key);
  if (it == v.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

const value* object_at(const value& v, std::string_view key) {
  if (!v.is_object()) return nullptr;
  auto it = v.find(key);
  if (it == v.end() || !it->is_object()) return nullptr;
  return &*it;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

// A base64 data: URL ("data:image/png;base64,AAAA"), split. The media type
// is what precedes the first ';' (empty when the URL gives none).
struct data_url {
  std::string_view mime_type;
  std::string_view data;
};

bool parse_base64_data_url(std::string_view url, data_url& out) {
  if (!starts_with_nocase(url, "data:")) return false;
  auto comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  std::string_view header = url.substr(5, comma - 5);
  constexpr std::string_view b64 = ";base64";
  if (header.size() < b64.size() ||
      !starts_with_nocase(header.substr(header.size() - b64.size()), b64))
    return false;
  out.mime_type = header.substr(0, header.find(';'));
  out.data = url.substr(comma + 1);
  return true;
}

// "image", "audio" or "video" for such a MIME type, else empty.
std::string_view modality_of(std::string_view mime_type) {
  for (std::string_view m : {"image", "audio", "video"}) {
    if (mime_type.size() > m.size() && starts_with_nocase(mime_type, m) &&
        mime_type[m.size()] == '/')
      return m;
  }
  return {};
}

value text_part(const std::string& s) { return value{{"type", "text"}, {"content", s}}; }

value blob_part(std::string_view modality, std::string_view mime_type, std::string_view data) {
  value p{{"type", "blob"}, {"content", std::string(data)}};
  if (!modality.empty()) p["modality"] = std::string(modality);
  if (!mime_type.empty()) p["mime_type"] = std::string(mime_type);
  return p;
}

// image_url: {"url": ...} (or, leniently, the URL itself).
void add_image_part(const value& part, value& parts) {
  const std::string* url = string_at(part, "image_url");
  if (const value* obj = object_at(part, "image_url")) url = string_at(*obj, "url");
  if (!url) return;
  data_url d;
  if (parse_base64_data_url(*url, d)) {
    parts.push_back(blob_part("image", d.mime_type, d.data));
  } else {
    parts.push_back(value{{"type", "uri"}, {"modality", "image"}, {"uri", *url}});
  }
}

void add_audio_part(const value& part, value& parts) {
  const value* audio = object_at(part, "input_audio");
  const std::string* data = audio ? string_at(*audio, "data") : nullptr;
  if (!data) return;
  std::string mime_type;
  if (const std::string* format = string_at(*audio, "format"); format && !format->empty()) {
    // IANA: mp3 is audio/mpeg; wav and the rest are audio/<format>.
    mime_type = *format == "mp3" ? "audio/mpeg" : "audio/" + *format;
  }
  parts.push_back(blob_part("audio", mime_type, *data));
}

void add_file_part(const value& part, value& parts) {
  const value* file = object_at(part, "file");
  if (!file) return;
  if (const std::string* id = string_at(*file, "file_id")) {
    parts.push_back(value{{"type", "file"}, {"file_id", *id}});
    return;
  }
  const std::string* file_data = string_at(*file, "file_data");
  if (!file_data) return;
  data_url d;
  if (parse_base64_data_url(*file_data, d)) {
    parts.push_back(blob_part(modality_of(d.mime_type), d.mime_type, d.data));
  } else {
    // OpenAI also takes bare base64 here.
    parts.push_back(blob_part({}, {}, *file_data));
  }
}

void add_content_part(const value& part, value& parts) {
  if (part.is_string()) {
    parts.push_back(text_part(part.get_ref<const std::string&>()));
    return;
  }
  const std::string* type = string_at(part, "type");
  if (!type) return;
  if (*type == "text") {
    if (const std::string* text = string_at(part, "text")) parts.push_back(text_part(*text));
  } else if (*type == "image_url") {
    add_image_part(part, parts);
  } else if (*type == "input_audio") {
    add_audio_part(part, parts);
  } else if (*type == "file") {
    add_file_part(part, parts);
  } else if (*type == "refusal") {
    if (const std::string* r = string_at(part, "refusal"))
      parts.push_back(value{{"type", "refusal"}, {"content", *r}});
  } else {
    parts.push_back(part);  // a generic part; an input value, so depth-checked
  }
}

void add_content(const value& content, value& parts) {
  if (content.is_string()) {
    const auto& s = content.get_ref<const std::string&>();
    if (!s.empty()) parts.push_back(text_part(s));
  } else if (content.is_array()) {
    for (const auto& part : content) add_content_part(part, parts);
  }
}

// Refuses (returns false) on the first container deeper than the limit, so
// that a hostile argument string is never built into a value.
class depth_check final : public nlohmann::json_sax<value> {
 public:
  explicit depth_check(std::size_t limit) : limit_(limit) {}
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth_ <= limit_; }
  bool key(string_t&) override { return true; }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return ++depth_ <= limit_; }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const value::exception&) override {
    return false;
  }

 private:
  std::size_t limit_;
  std::size_t depth_ = 0;
};

// Arguments as JSON when they are JSON (and not too deep), else the raw string.
value arguments_value(const value& args) {
  if (!args.is_string()) return args;
  const auto& s = args.get_ref<const std::string&>();
  depth_check check(genai_max_argument_depth);
  if (!value::sax_parse(s, &check)) return args;
  value parsed = value::parse(s, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? args : parsed;
}

void add_tool_call(const value& call, value& parts) {
  if (!call.is_object()) return;
  const std::string* name = nullptr;
  const value* args = nullptr;
  bool free_text = false;  // a custom tool's input is text, never parsed
  if (const value* fn = object_at(call, "function")) {
    name = string_at(*fn, "name");
    if (auto it = fn->find("arguments"); it != fn->end()) args = &*it;
  } else if (const value* custom = object_at(call, "custom")) {
    name = string_at(*custom, "name");
    if (auto it = custom->find("input"); it != custom->end()) args = &*it;
    free_text = true;
  }
  if (!name) return;
  value p{{"type", "tool_call"}, {"name", *name}};
  if (const std::string* id = string_at(call, "id")) p["id"] = *id;
  if (args && !args->is_null()) p["arguments"] = free_text ? *args : arguments_value(*args);
  parts.push_back(std::move(p));
}

void add_assistant_extras(const value& msg, value& parts) {
  const std::string* reasoning = string_at(msg, "reasoning_content");
  if (!reasoning) reasoning = string_at(msg, "reasoning");
  if (reasoning && !reasoning->empty())
    parts.insert(parts.begin(), value{{"type", "reasoning"}, {"content", *reasoning}});
  if (const std::string* r = string_at(msg, "refusal"); r && !r->empty())
    parts.push_back(value{{"type", "refusal"}, {"content", *r}});
  if (auto it = msg.find("tool_calls"); it != msg.end() && it->is_array()) {
    for (const auto& call : *it) add_tool_call(call, parts);
  }
  if (const value* fc = object_at(msg, "function_call")) {
    value call{{"function", *fc}};
    add_tool_call(call, parts);
  }
}

// A tool result as the model reads it: text parts joined, else as is.
value tool_response(const value& msg) {
  auto it = msg.find("content");
  if (it == msg.end()) return nullptr;
  const value& content = *it;
  if (!content.is_array()) return content;
  std::string joined;
  for (const auto& part : content) {
    const std::string* text = nullptr;
    if (const std::string* type = string_at(part, "type"); type && *type == "text")
      text = string_at(part, "text");
    if (!text) return content;
    joined += *text;
  }
  return joined;
}

// One OpenAI message -> one GenAI message, or null when it cannot be (not
// an object, or no string role and no default one).
value convert_message(const value& msg, const char* default_role = nullptr) {
  if (!msg.is_object()) return nullptr;
  const std::string* given = string_at(msg, "role");
  if (!given && !default_role) return nullptr;
  const std::string role = given ? *given : std::string(default_role);
  value out{{"role", role}, {"parts", value::array()}};
  value& parts = out["parts"];
  if (role == "tool" || role == "function") {
    out["role"] = "tool";
    value p{{"type", "tool_call_response"}, {"response", tool_response(msg)}};
    if (const std::string* id = string_at(msg, "tool_call_id")) p["id"] = *id;
    parts.push_back(std::move(p));
  } else {
    if (auto it = msg.find("content"); it != msg.end()) add_content(*it, parts);
    add_assistant_extras(msg, parts);
  }
  if (const std::string* name = string_at(msg, "name")) out["name"] = *name;
  return out;
}

std::string finish_reason_of(const std::string& openai) {
  if (openai == "tool_calls" || openai == "function_call") return "tool_call";
  return openai;
}

}  // namespace

value genai_input_messages(const value& openai_messages) {
  value out = value::array();
  if (!openai_messages.is_array()) return out;
  for (const auto& msg : openai_messages) {
    value m = convert_message(msg);
    if (!m.is_null()) out.push_back(std::move(m));
  }
  return out;
}

value genai_output_messages(const value& assistant_message, const std::string& finish_reason) {
  value m = convert_message(assistant_message, "assistant");
  if (m.is_null()) m = value{{"role", "assistant"}, {"parts", value::array()}};
  m["finish_reason"] = finish_reason_of(finish_reason);
  value out = value::array();
  out.push_back(std::move(m));
  return out;
}

value genai_system_instructions(const std::string& system) {
  value out = value::array();
  if (!system.empty()) out.push_back(text_part(system));
  return out;
}

}  // namespace weft::components
