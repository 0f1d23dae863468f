#include "flows/spec_reader.hpp"

#include <algorithm>
#include <array>

#include "flows/env_subst.hpp"
#include "flows/names.hpp"
#include "flows/yaml_reader.hpp"
#include "flows/yaml_value.hpp"

namespace weft::flows {
namespace {

const std::vector<std::string> top_keys = {"flow",   "description", "timeout_ms",
                                           "inputs", "nodes",       "outputs"};
const std::vector<std::string> input_keys = {"type", "default", "description"};
const std::vector<std::string> node_keys = {"type",       "params",    "inputs",
                                            "timeout_ms", "placement", "description"};
const std::vector<std::string> placement_keys = {"tags"};
const std::vector<std::string> type_names = {"string", "number", "integer", "boolean",
                                             "object", "array",  "any"};

constexpr const char* source_forms = "expected $inputs.NAME or NODE.SOCKET";

std::optional<value_type> parse_value_type(std::string_view s) {
  static constexpr std::array all = {value_type::string,  value_type::number, value_type::integer,
                                     value_type::boolean, value_type::object, value_type::array,
                                     value_type::any};
  for (value_type t : all)
    if (s == to_string(t)) return t;
  return std::nullopt;
}

// What the user wrote, for "got ..." in messages: the scalar's text, or the
// kind of node.
std::string shown(const YAML::Node& n) {
  return n.IsScalar() ? quote(n.Scalar()) : std::string{kind_of(n)};
}

class flow_reader {
 public:
  flow_reader(const std::string& file, const env_lookup& env, diagnostics& errs,
              std::string_view text)
      : file_(file), env_(env), errs_(errs), text_(text) {}

  read_flow read(const YAML::Node& root) {
    out_.spec.file = file_;
    if (!root.IsMap()) {
      if (root.IsNull() || !root.IsDefined())  // no position to speak of: say line 1
        errs_.push_back(diagnostic_at(
            file_, 1, 1, "empty document; a flow file is a mapping with keys: " + join(top_keys)));
      else
        error(root, std::string{"expected a mapping at top level, got "} + kind_of(root) +
                        "; a flow file is a mapping with keys: " + join(top_keys));
      return std::move(out_);
    }
    bool has_flow = false, has_nodes = false;
    for_each_entry(root, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
      if (key == "flow") {
        has_flow = true;
        read_flow_name(v);
      } else if (key == "description") {
        if (auto s = scalar_text(v, "description")) out_.spec.description = *s;
      } else if (key == "timeout_ms") {
        out_.spec.timeout_ms = read_timeout(v, "");
      } else if (key == "inputs") {
        read_inputs(v);
      } else if (key == "nodes") {
        has_nodes = true;
        read_nodes(k, v);
      } else if (key == "outputs") {
        read_outputs(v);
      } else {
        unknown_key(k, key, "at top level", top_keys);
      }
    });
    if (!has_flow) error(root, "missing required key 'flow' (the flow's name) at top level");
    if (!has_nodes)
      error(root, "missing required key 'nodes' at top level; a flow needs at least one node");
    return std::move(out_);
  }

 private:
  void error(const YAML::Node& at, std::string message) {
    errs_.push_back({loc_of(at, file_), std::move(message)});
  }

  void unknown_key(const YAML::Node& k, const std::string& key, const std::string& where,
                   const std::vector<std::string>& valid) {
    error(k, "unknown key " + quote(key) + " " + where + did_you_mean(key, valid) +
                 "; valid keys are: " + join(valid));
  }

  // The text of a scalar, or an error naming `what`.
  std::optional<std::string> scalar_text(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar()) return n.Scalar();
    error(n, what + " must be a string, got " + kind_of(n));
    return std::nullopt;
  }

  void read_flow_name(const YAML::Node& v) {
    auto name = scalar_text(v, "flow (the flow's name)");
    if (!name) return;
    if (!is_flow_name(*name)) {
      error(v, "bad flow name " + quote(*name) +
                   "; flow names match [A-Za-z0-9_.-] and are 1 to 64 characters long");
      return;
    }
    out_.spec.name = *name;
  }

  std::optional<std::int64_t> read_timeout(const YAML::Node& v, const std::string& context) {
    diagnostics ignored;  // a malformed scalar is reported below, in context
    auto x = to_value(v, file_, ignored);
    // Integers past int64 come back unsigned; they are no sensible timeout.
    if (x && x->is_number_integer() && !x->is_number_unsigned() && x->get<std::int64_t>() > 0)
      return x->get<std::int64_t>();
    error(v, context + "timeout_ms must be a positive integer (milliseconds), got " + shown(v));
    return std::nullopt;
  }

  // A name that must be an identifier; reported with `what` ("node id").
  void check_identifier(const YAML::Node& k, const std::string& name, const std::string& what) {
    if (!is_identifier(name)) error(k, "bad " + what + " " + quote(name) + "; " + identifier_rule);
  }

  // --- inputs ---------------------------------------------------------------

  void read_inputs(const YAML::Node& v) {
    if (v.IsNull()) return;  // `inputs:` with nothing under it: no inputs
    if (!v.IsMap()) {
      error(v, std::string{"inputs must be a mapping from input name to type, got "} + kind_of(v));
      return;
    }
    for_each_entry(v, [&](const std::string& name, const YAML::Node& k, const YAML::Node& d) {
      check_identifier(k, name, "input name");
      input_decl decl;
      decl.name = name;
      decl.loc = loc_of(k, file_);
      read_input_decl(name, d, decl);
      out_.spec.inputs.push_back(std::move(decl));
    });
  }

  void read_input_decl(const std::string& name, const YAML::Node& d, input_decl& decl) {
    const std::string context = "input " + quote(name) + ": ";
    if (d.IsScalar()) {  // `name: string`
      read_input_type(context, d, decl);
      return;
    }
    if (!d.IsMap()) {
      error(d, context + "expected a type name (" + join(type_names) +
                   ") or a mapping with keys: " + join(input_keys) + ", got " + kind_of(d));
      return;
    }
    std::optional<YAML::Node> default_node;
    for_each_entry(d, [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
      if (key == "type") {
        read_input_type(context, v, decl);
      } else if (key == "default") {
        default_node = v;
      } else if (key == "description") {
        scalar_text(v, context + "description");
      } else {
        unknown_key(k, key, "in " + context.substr(0, context.size() - 2), input_keys);
      }
    });
    // The default is checked after the loop: `type` may come after it.
    if (default_node) {
      if (auto x = to_value(*default_node, file_, errs_)) {
        if (matches(decl.type, *x)) decl.default_value = std::move(*x);
        else
          error(*default_node,
                context + "default must be " + to_string(decl.type) + ", got " + x->type_name());
      }
    }
  }

  void read_input_type(const std::string& context, const YAML::Node& v, input_decl& decl) {
    auto text = scalar_text(v, context + "type");
    if (!text) return;
    if (auto t = parse_value_type(*text)) {
      decl.type = *t;
      return;
    }
    error(v, context + "unknown type " + quote(*text) + did_you_mean(*text, type_names) +
                 "; valid types are: " + join(type_names));
  }

  // --- nodes ----------------------------------------------------------------

  void read_nodes(const YAML::Node& key, const YAML::Node& v) {
    if (v.IsMap() && v.size() > 0) {
      for_each_entry(v, [&](const std::string& id, const YAML::Node& k, const YAML::Node& n) {
        read_node(id, k, n);
      });
    } else if (v.IsMap() || v.IsNull()) {
      error(v.IsNull() ? key : v, "nodes is empty; a flow needs at least one node");
    } else {
      error(v, std::string{"nodes must be a mapping from node id to node, got "} + kind_of(v));
    }
  }

  void read_node(const std::string& id, const YAML::Node& k, const YAML::Node& n) {
    check_identifier(k, id, "node id");
    node_spec node;
    node.id = id;
    node.loc = loc_of(k, file_);
    node_places places;
    places.type = places.params = node.loc;
    const std::string context = "node " + quote(id) + ": ";
    if (!n.IsMap()) {
      error(n,
            context + "expected a mapping with keys: " + join(node_keys) + ", got " + kind_of(n));
    } else {
      bool has_type = false;
      for_each_entry(n, [&](const std::string& key, const YAML::Node& kk, const YAML::Node& v) {
        if (key == "type") {
          has_type = true;
          places.type = loc_of(v, file_);
          if (auto t = scalar_text(v, context + "type"); t && !t->empty()) node.type = *t;
          else if (t) error(v, context + "type must not be empty");
        } else if (key == "params") {
          places.params = loc_of(kk, file_);
          read_params(context, v, node, places);
        } else if (key == "inputs") {
          read_bindings(context, v, node, places);
        } else if (key == "timeout_ms") {
          node.timeout_ms = read_timeout(v, context);
        } else if (key == "placement") {
          read_placement(context, v, node);
        } else if (key == "description") {
          scalar_text(v, context + "description");
        } else {
          unknown_key(kk, key, "in node " + quote(id), node_keys);
        }
      });
      if (!has_type) error(k, context + "missing required key 'type'");
    }
    out_.spec.nodes.push_back(std::move(node));
    out_.places.push_back(std::move(places));
  }

  // `placement: {tags: [gpu, eu]}`: worker tags, each a name as flow names
  // are, at least one.
  void read_placement(const std::string& context, const YAML::Node& v, node_spec& node) {
    const std::string what = context + "placement";
    if (!v.IsMap()) {
      error(v, what + " must be a mapping like {tags: [gpu]}, got " + kind_of(v));
      return;
    }
    bool has_tags = false, unknown = false;
    for_each_entry(v, [&](const std::string& key, const YAML::Node& k, const YAML::Node& x) {
      if (key != "tags") {
        unknown_key(k, key, "in " + what, placement_keys);
        unknown = true;
        return;
      }
      has_tags = true;
      if (!x.IsSequence() || x.size() == 0) {
        error(x, what + ".tags must be a list of one or more worker tags, like [gpu], got " +
                     (x.IsSequence() ? std::string("an empty list") : shown(x)));
        return;
      }
      for (const auto& t : x) {
        auto tag = scalar_text(t, what + ".tags entry");
        if (!tag) continue;
        if (!is_flow_name(*tag)) {
          error(t, what + ": bad tag " + quote(*tag) +
                       "; tags match [A-Za-z0-9_.-] and are 1 to 64 characters long");
          continue;
        }
        if (std::find(node.placement_tags.begin(), node.placement_tags.end(), *tag) ==
            node.placement_tags.end())
          node.placement_tags.push_back(*tag);
      }
    });
    // A misspelt key says enough; a missing one is its own error.
    if (!has_tags && !unknown)
      error(v, what + " needs 'tags': the worker tags the node must run on");
  }

  void read_params(const std::string& context, const YAML::Node& v, node_spec& node,
                   node_places& places) {
    if (v.IsNull()) return;  // `params:` with nothing under it
    if (!v.IsMap()) {
      error(v, context + "params must be a mapping from param name to value, got " + kind_of(v));
      return;
    }
    string_hook substitute = [&](std::string& text, const YAML::Node& at, const std::string& path) {
      std::vector<std::string> problems;
      if (substitute_env(text, env_, problems)) return true;
      for (const std::string& p : problems) error(at, context + "param " + quote(path) + ": " + p);
      return false;
    };
    for_each_entry(v, [&](const std::string& name, const YAML::Node& k, const YAML::Node& x) {
      places.param[name] = {loc_of(k, file_), loc_of(x, file_)};
      node.param_locs[name] = place_of(x);
      // One level into a mapping param: where each entry is, which also
      // gives the file order that the value (a sorted JSON object) loses,
      // for params whose order matters (a router's routes, tried in order).
      if (x.IsMap())
        for_each_entry(x, [&](const std::string& key, const YAML::Node&, const YAML::Node& e) {
          node.param_locs[name + "." + key] = place_of(e);
        });
      if (auto converted = to_value(x, file_, errs_, name, substitute))
        node.params[name] = std::move(*converted);
    });
  }

  // Where a param's value is; for a literal block scalar (`|`, whose lines
  // are the file's lines one to one), also where its text begins: the line
  // after the header, at the indentation of its first non-blank line.
  param_loc place_of(const YAML::Node& x) {
    param_loc p{loc_of(x, file_)};
    if (!x.IsScalar() || x.Mark().pos < 0) return p;
    const auto at = static_cast<std::size_t>(x.Mark().pos);
    if (at >= text_.size() || text_[at] != '|') return p;
    std::size_t i = text_.find('\n', at);
    if (i == std::string_view::npos) return p;
    for (std::size_t start = i + 1; start < text_.size();) {
      std::size_t end = text_.find('\n', start);
      if (end == std::string_view::npos) end = text_.size();
      std::string_view l = text_.substr(start, end - start);
      std::size_t indent = l.find_first_not_of(' ');
      if (indent != std::string_view::npos && l.substr(indent) != "\r") {
        p.text_line = p.value.line + 1;
        p.text_col = static_cast<int>(indent) + 1;
        return p;
      }
      start = end + 1;
    }
    return p;
  }

  void read_bindings(const std::string& context, const YAML::Node& v, node_spec& node,
                     node_places& places) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      error(v, context + "inputs must be a mapping from socket name to source (" + source_forms +
                   "), got " + kind_of(v));
      return;
    }
    for_each_entry(v, [&](const std::string& socket, const YAML::Node& k, const YAML::Node& s) {
      check_identifier(k, socket, "socket name");
      socket_binding b;
      b.socket = socket;
      b.loc = loc_of(k, file_);
      const std::string where = context + "input " + quote(socket) + ": ";
      bool ok = true;
      if (s.IsSequence()) {
        b.list = true;
        for (const YAML::Node& item : s) {
          auto ref = read_source(where, item);
          if (ref) b.sources.push_back(std::move(*ref));
          ok = ok && ref.has_value();
        }
      } else if (auto ref = read_source(where, s)) {
        b.sources.push_back(std::move(*ref));
      } else {
        ok = false;
      }
      if (!ok) places.broken_inputs.insert(socket);
      node.inputs.push_back(std::move(b));
    });
  }

  // --- sources and outputs ----------------------------------------------------

  std::optional<source_ref> read_source(const std::string& context, const YAML::Node& n) {
    if (!n.IsScalar()) {
      error(n, context + "expected a source (" + source_forms + "), got " + kind_of(n));
      return std::nullopt;
    }
    const std::string& text = n.Scalar();
    source_ref ref;
    ref.loc = loc_of(n, file_);
    static const std::string inputs_prefix = "$inputs.";
    if (text.rfind(inputs_prefix, 0) == 0) {
      ref.from_flow_input = true;
      ref.socket = text.substr(inputs_prefix.size());
      if (is_identifier(ref.socket)) return ref;
    } else if (auto dot = text.find('.'); dot != std::string::npos) {
      ref.node = text.substr(0, dot);
      ref.socket = text.substr(dot + 1);
      if (is_identifier(ref.node) && is_identifier(ref.socket)) return ref;
    }
    error(n, context + "bad source " + quote(text) + "; " + source_forms);
    return std::nullopt;
  }

  void read_outputs(const YAML::Node& v) {
    if (v.IsNull()) return;
    if (!v.IsMap()) {
      error(v, std::string{"outputs must be a mapping from output name to source ("} +
                   source_forms + "), got " + kind_of(v));
      return;
    }
    for_each_entry(v, [&](const std::string& name, const YAML::Node& k, const YAML::Node& s) {
      check_identifier(k, name, "output name");
      if (auto ref = read_source("output " + quote(name) + ": ", s)) {
        output_decl o;
        o.name = name;
        o.source = std::move(*ref);
        o.loc = loc_of(k, file_);
        out_.spec.outputs.push_back(std::move(o));
      }
    });
  }

  const std::string& file_;
  const env_lookup& env_;
  diagnostics& errs_;
  std::string_view text_;
  read_flow out_;
};

}  // namespace

read_flow read_flow_document(const YAML::Node& root, const std::string& file, const env_lookup& env,
                             diagnostics& errs, std::string_view text) {
  return flow_reader{file, env, errs, text}.read(root);
}

}  // namespace weft::flows
