#include "flows/component.hpp"

#include <exception>

namespace weft::flows {

void sync_component::start(node_context& ctx, value_map inputs) const {
  // An exception must never escape a component into the actor that runs it:
  // it becomes the node's error, recorded on its span.
  value_map out;
  try {
    out = run(inputs);
  } catch (const std::exception& e) {
    ctx.fail(e.what());
    return;
  } catch (...) {
    ctx.fail("unknown exception");
    return;
  }
  ctx.complete(std::move(out));
}

}  // namespace weft::flows
