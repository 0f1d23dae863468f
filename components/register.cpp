#include "components/register.hpp"

namespace weft::components {

void register_all(flows::registry& r) {
  register_core(r);
  register_http(r);
  register_lua(r);
  register_router(r);
  register_join(r);
  register_subflow(r);
  register_map(r);
  register_loop(r);
  register_llm_chat(r);
  register_agent(r);
}

}  // namespace weft::components
