// The non-virtual half of the component SDK (include/weft/component.hpp):
// span handles forward to the context that owns their span, which ignores
// them once the node has ended.
#include "flows/component.hpp"

#include <exception>

namespace weft {

span& span::set(std::string key, attribute_value v) {
  if (owner_) owner_->span_set(index_, std::move(key), std::move(v));
  return *this;
}

span& span::event(std::string name, std::vector<std::pair<std::string, attribute_value>> attrs) {
  if (owner_) owner_->span_event(index_, std::move(name), std::move(attrs));
  return *this;
}

span& span::status(span_status s, std::string message) {
  if (owner_) owner_->span_set_status(index_, s, std::move(message));
  return *this;
}

void span::end() {
  if (owner_) owner_->span_end(index_);
}

span span::child(std::string name, span_kind kind) {
  if (!owner_) return {};
  auto i = owner_->span_open(index_, std::move(name), kind);
  return i ? span(owner_, i) : span();
}

std::string span::traceparent() const {
  return owner_ ? owner_->span_traceparent(index_) : std::string();
}

bool span::recording() const { return owner_ && owner_->span_recording(index_); }

std::string node_context::traceparent() const { return span_traceparent(0); }

span node_context::start_span(std::string name, span_kind kind) {
  auto i = span_open(0, std::move(name), kind);
  return i ? span(shared_from_this(), i) : span();
}

void sync_component::start(node_context& ctx, value_map inputs) const {
  // An exception must never escape a component into the actor that runs it:
  // it becomes the node's error, recorded on its span.
  value_map out;
  try {
    out = run(inputs);
  } catch (const std::exception& e) {
    ctx.fail(e.what(), "exception");
    return;
  } catch (...) {
    ctx.fail("unknown exception", "exception");
    return;
  }
  ctx.complete(std::move(out));
}

}  // namespace weft
