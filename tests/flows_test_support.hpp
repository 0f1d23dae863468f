// Shared by the flows_*_test.cpp files: a small component registry and
// helpers to parse flow text and look at the diagnostics.
//
// The registry is built here, not from components::register_all, so that
// these tests pin the parser's behaviour and not the components'.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>

#include "flows/parser.hpp"

#ifndef WEFT_SOURCE_DIR
#define WEFT_SOURCE_DIR "."
#endif

namespace weft::flows::test {

inline registry test_registry() {
  auto none = [](const node_spec&, const component_services&,
                 diagnostics&) -> std::shared_ptr<const component> {
    return nullptr;  // never called: the parser does not instantiate
  };
  registry r;
  r.add({"passthrough", "", {{"value", true, false}}, false, {"value"}, {}, false, none});
  r.add(
      {"template", "", {}, true, {"text"}, {{"template", value_type::string, true}}, false, none});
  r.add({"join",
         "",
         {{"items", true, true}},
         false,
         {"joined"},
         {{"separator", value_type::string, false}, {"limits", value_type::object, false}},
         false,
         none});
  r.add({"sleep",
         "",
         {{"value", false, false}},
         false,
         {"value"},
         {{"ms", value_type::integer, true}},
         false,
         none});
  r.add({"const", "", {}, false, {"value"}, {{"value", value_type::any, true}}, false, none});
  return r;
}

/// An environment with a few fixed variables, so tests never depend on the
/// real one.
inline env_lookup test_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (name == "WEFT_TEST_TOKEN") return "s3cret-token";
    if (name == "WEFT_TEST_HOST") return "example.org";
    if (name == "WEFT_TEST_EMPTY") return "";
    return std::nullopt;
  };
}

struct parse_result {
  std::optional<flow_spec> spec;
  diagnostics errs;

  /// Every diagnostic, one per line, for failure messages.
  std::string dump() const {
    std::string out;
    for (const diagnostic& d : errs) out += d.to_string() + "\n";
    return out;
  }

  /// True when some diagnostic is at `line` (and `col`, unless 0) and its
  /// message contains `text`.
  bool has(int line, int col, std::string_view text) const {
    return std::any_of(errs.begin(), errs.end(), [&](const diagnostic& d) {
      return d.loc.line == line && (col == 0 || d.loc.col == col) &&
             d.message.find(text) != std::string::npos;
    });
  }

  bool mentions(std::string_view text) const {
    return std::any_of(errs.begin(), errs.end(), [&](const diagnostic& d) {
      return d.message.find(text) != std::string::npos;
    });
  }
};

inline parse_result parse_text(std::string_view text, const env_lookup& env = test_env()) {
  static const registry components = test_registry();
  parse_result r;
  r.spec = parse_flow(text, "test.yaml", components, r.errs, env);
  return r;
}

inline std::string fixture_path(const std::string& name) {
  // Appended, not `std::string{...} + "..." + name`: GCC 12 at -O1 takes
  // the temporaries of the latter for an out-of-bounds copy (-Warray-bounds).
  std::string path = WEFT_SOURCE_DIR;
  path += "/tests/flows/";
  path += name;
  return path;
}

inline parse_result parse_fixture(const std::string& name, const env_lookup& env = test_env()) {
  static const registry components = test_registry();
  parse_result r;
  r.spec = parse_flow_file(fixture_path(name), components, r.errs, env);
  return r;
}

}  // namespace weft::flows::test
