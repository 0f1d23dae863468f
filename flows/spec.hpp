// A flow as written in its file, after parsing and validation.
//
// The spec keeps the source position of every element, so that later stages
// (planning, running) can still point a user at the line at fault.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "flows/diagnostic.hpp"
#include "flows/value.hpp"

namespace weft::flows {

/// Declared type of a flow input.
enum class value_type { string, number, integer, boolean, object, array, any };

const char* to_string(value_type t);
/// True when `v` is acceptable for type `t` (an integer is also a number).
bool matches(value_type t, const value& v);
/// Converts command-line text to `t` ("42" -> 42, "true" -> true, JSON for
/// object/array); nullopt when it cannot.
std::optional<value> convert_text(value_type t, const std::string& text);

struct input_decl {
  std::string name;
  value_type type = value_type::any;
  std::optional<value> default_value;  // no default: the input is required
  source_loc loc;
};

/// Where a value comes from: `$inputs.NAME` or `NODE.SOCKET`.
struct source_ref {
  bool from_flow_input = false;
  std::string node;    // empty for a flow input
  std::string socket;  // input name for a flow input
  source_loc loc;

  std::string to_string() const;
};

/// One input socket of a node and what feeds it. A variadic socket has a list
/// of sources (its value is the array of their values, in order).
struct socket_binding {
  std::string socket;
  bool list = false;
  std::vector<source_ref> sources;
  source_loc loc;
};

/// Where one param's value is written. `text_line`/`text_col` are set (not 0)
/// when the value is a literal block scalar (`|`): its text's line N is then
/// the file's line text_line + N - 1, so a component can point into it (a
/// script's syntax error, say).
struct param_loc {
  source_loc value;
  int text_line = 0;
  int text_col = 0;
};

struct node_spec {
  std::string id;
  std::string type;
  value params = value::object();
  /// Where each param is, by name; for a mapping param also each of its
  /// entries, as "param.key" (their file order is the order of these locs).
  std::map<std::string, param_loc, std::less<>> param_locs;
  std::vector<socket_binding> inputs;
  std::optional<std::int64_t> timeout_ms;
  /// `placement: {tags: [gpu]}`: the node, with a composite's whole
  /// subtree, runs on a cluster worker that has every one of these tags.
  /// Empty: it runs where its run does.
  std::vector<std::string> placement_tags;
  source_loc loc;
};

struct output_decl {
  std::string name;
  source_ref source;
  source_loc loc;
};

struct flow_spec {
  std::string name;
  std::string description;
  std::string file;  // where it was loaded from ("<string>" if not a file)
  /// Of the text it was parsed from (parser.hpp, content_hash), and once
  /// compiled, of the flows it runs as well (plan.cpp): fronts and
  /// workers compare it to know they run the same version of a flow.
  std::string content_hash;
  std::vector<input_decl> inputs;
  std::vector<node_spec> nodes;
  std::vector<output_decl> outputs;
  std::optional<std::int64_t> timeout_ms;

  const node_spec* find_node(std::string_view id) const;
  const input_decl* find_input(std::string_view name) const;
};

}  // namespace weft::flows
