#include "components/thread_rng.hpp"

namespace weft::components {

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace weft::components
