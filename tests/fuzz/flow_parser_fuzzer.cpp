// libFuzzer target for the flow parser: the property of
// tests/flows_fuzz_test.cpp (never throw, return a spec or a diagnostic),
// open-ended and coverage-guided. Not part of the CMake build.
//
// Build and run from the repository root (new inputs go to the first dir):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iinclude -Itests tests/fuzz/flow_parser_fuzzer.cpp flows/*.cpp -lyaml-cpp -o /tmp/flow_fuzzer && mkdir -p /tmp/flow-corpus && /tmp/flow_fuzzer /tmp/flow-corpus tests/corpus -max_len=65536 -timeout=5
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "flows/parser.hpp"
#include "flows_test_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const weft::flows::registry components = weft::flows::test::test_registry();
  static const weft::flows::env_lookup env = [](const std::string& name) {
    return name == "SET" ? std::optional<std::string>{"value"} : std::nullopt;
  };
  weft::flows::diagnostics errs;
  auto spec = weft::flows::parse_flow(std::string_view(reinterpret_cast<const char*>(data), size),
                                      "fuzz.yaml", components, errs, env);
  // parse_flow promises one or the other; anything else is a bug to report.
  if (spec.has_value() == !errs.empty()) std::abort();
  return 0;
}
