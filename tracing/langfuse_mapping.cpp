// weft attributes -> langfuse.* attributes (see langfuse_mapping.hpp).
#include "tracing/langfuse_mapping.hpp"

#include <algorithm>
#include <cctype>

namespace weft::tracing {
namespace {

bool contains_llm(std::string_view s) {
  for (std::size_t i = 0; i + 3 <= s.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) == 'l' &&
        std::tolower(static_cast<unsigned char>(s[i + 1])) == 'l' &&
        std::tolower(static_cast<unsigned char>(s[i + 2])) == 'm')
      return true;
  return false;
}

void set_if_absent(span_record& span, std::string_view key, attribute_value value) {
  if (!span.find(key)) span.set(std::string(key), std::move(value));
}

void copy_if_present(span_record& span, std::string_view from, std::string_view to) {
  if (const std::string* v = string_attribute(span, from)) {
    std::string copy = *v;  // set() may reallocate the attribute vector
    set_if_absent(span, to, std::move(copy));
  }
}

}  // namespace

const std::string* string_attribute(const span_record& span, std::string_view key) {
  return std::get_if<std::string>(span.find(key));
}

std::string langfuse_observation_type(const span_record& span) {
  if (const std::string* own = string_attribute(span, "langfuse.observation.type")) return *own;
  if (const std::string* type = string_attribute(span, "weft.node.type"); type && contains_llm(*type))
    return "generation";
  const bool gen_ai = std::any_of(span.attributes.begin(), span.attributes.end(),
                                  [](const attribute& a) { return a.key.starts_with("gen_ai."); });
  return gen_ai ? "generation" : "span";
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
    set_if_absent(span, "langfuse.observation.type", langfuse_observation_type(span));
    if (span.status == status_code::error) {
      set_if_absent(span, "langfuse.observation.level", std::string("ERROR"));
      if (!span.status_message.empty())
        set_if_absent(span, "langfuse.observation.status_message", span.status_message);
    }
    if (options.content) {
      copy_if_present(span, "weft.inputs", "langfuse.observation.input");
      copy_if_present(span, "weft.outputs", "langfuse.observation.output");
      if (is_langfuse_root(span)) {
        copy_if_present(span, "weft.inputs", "langfuse.trace.input");
        copy_if_present(span, "weft.outputs", "langfuse.trace.output");
      }
    }
    if (!options.environment.empty()) set_if_absent(span, "langfuse.environment", options.environment);
    if (!options.release.empty()) set_if_absent(span, "langfuse.release", options.release);
  }
}

}  // namespace weft::tracing
