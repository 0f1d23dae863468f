#include "flows/flow_checks.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "flows/names.hpp"

namespace weft::flows {
namespace {

std::vector<std::string> socket_names(const std::vector<socket_spec>& sockets) {
  std::vector<std::string> out;
  out.reserve(sockets.size());
  for (const socket_spec& s : sockets) out.push_back(s.name);
  return out;
}

std::vector<std::string> param_names(const std::vector<param_spec>& params) {
  std::vector<std::string> out;
  out.reserve(params.size());
  for (const param_spec& p : params) out.push_back(p.name);
  return out;
}

class flow_checker {
 public:
  flow_checker(read_flow& flow, const registry& components, diagnostics& errs)
      : spec_(flow.spec), places_(flow.places), components_(components), errs_(errs) {}

  void run() {
    const std::size_t n = spec_.nodes.size();
    for (std::size_t i = 0; i < n; ++i) {
      index_.emplace(spec_.nodes[i].id, i);
      // Bad names were reported; listing them again (binary junk, perhaps)
      // in every message would not help.
      if (is_identifier(spec_.nodes[i].id)) node_ids_.push_back(spec_.nodes[i].id);
    }
    for (const input_decl& in : spec_.inputs)
      if (is_identifier(in.name)) input_names_.push_back(in.name);

    descriptors_.resize(n, nullptr);
    for (std::size_t i = 0; i < n; ++i) {
      node_spec& node = spec_.nodes[i];
      // An empty type was reported by the reader (missing or empty `type`).
      if (node.type.empty()) continue;
      descriptors_[i] = components_.find(node.type);
      if (!descriptors_[i]) {
        auto known = components_.type_names();
        add(places_[i].type, context(node) + "unknown component type " + quote(node.type) +
                                 did_you_mean(node.type, known) + "; known types: " + join(known));
        continue;
      }
      check_params(node, *descriptors_[i], places_[i]);
      check_sockets(node, *descriptors_[i], places_[i]);
    }
    for (const node_spec& node : spec_.nodes)
      for (const socket_binding& b : node.inputs)
        for (const source_ref& ref : b.sources)
          check_source(context(node) + "input " + quote(b.socket) + ": ", ref);
    for (const output_decl& o : spec_.outputs)
      check_source("output " + quote(o.name) + ": ", o.source);
    check_cycles();
  }

 private:
  void add(const source_loc& loc, std::string message) {
    errs_.push_back({loc, std::move(message)});
  }

  static std::string context(const node_spec& node) { return "node " + quote(node.id) + ": "; }

  // --- params ---------------------------------------------------------------

  void check_params(const node_spec& node, const component_descriptor& d,
                    const node_places& places) {
    const std::string what = context(node);
    // Not a structured binding: clang before 16 cannot capture one in the
    // lambda below.
    for (const auto& entry : places.param) {
      const std::string& name = entry.first;
      const node_places::param_place& place = entry.second;
      auto spec = std::find_if(d.params.begin(), d.params.end(),
                               [&](const param_spec& p) { return p.name == name; });
      if (spec == d.params.end()) {
        add(place.key,
            what + "unknown param " + quote(name) + " for type " + d.type +
                did_you_mean(name, param_names(d.params)) +
                (d.params.empty() ? "; it takes no params"
                                  : "; valid params are: " + join(param_names(d.params))));
        continue;
      }
      // A param missing from node.params failed to convert; that is reported.
      auto v = node.params.find(name);
      if (v != node.params.end() && !matches(spec->type, *v))
        add(place.value, what + "param " + quote(name) + " must be " + to_string(spec->type) +
                             ", got " + v->type_name());
    }
    for (const param_spec& p : d.params)
      if (p.required && !places.param.count(p.name))
        add(places.params, what + "missing required param " + quote(p.name) + " (" +
                               to_string(p.type) + ") for type " + d.type);
  }

  // --- sockets of the node itself ---------------------------------------------

  void check_sockets(node_spec& node, const component_descriptor& d, const node_places& places) {
    const std::string what = context(node);
    for (socket_binding& b : node.inputs) {
      if (!is_identifier(b.socket)) continue;  // a bad name; reported as such
      auto spec = std::find_if(d.inputs.begin(), d.inputs.end(),
                               [&](const socket_spec& s) { return s.name == b.socket; });
      if (spec == d.inputs.end()) {
        if (!d.open_inputs) {
          add(b.loc,
              what + "unknown input socket " + quote(b.socket) + " for type " + d.type +
                  did_you_mean(b.socket, socket_names(d.inputs)) +
                  (d.inputs.empty() ? "; it takes no inputs"
                                    : "; valid inputs are: " + join(socket_names(d.inputs))));
        } else if (b.list) {
          add(b.loc, what + "input " + quote(b.socket) +
                         " takes a single source, not a list (only variadic inputs take lists)");
        }
        continue;
      }
      if (b.list && !spec->variadic) {
        add(b.loc, what + "input " + quote(b.socket) + " of type " + d.type +
                       " takes a single source, not a list");
      } else if (spec->variadic) {
        b.list = true;  // one source is a list of one: the component sees an array
        if (spec->required && b.sources.empty() && !places.broken_inputs.count(b.socket))
          add(b.loc, what + "input " + quote(b.socket) + " needs at least one source");
      }
    }
    for (const socket_spec& s : d.inputs) {
      if (!s.required) continue;
      bool bound = std::any_of(node.inputs.begin(), node.inputs.end(),
                               [&](const socket_binding& b) { return b.socket == s.name; });
      if (!bound)
        add(node.loc,
            what + "required input " + quote(s.name) + " of type " + d.type + " is not connected");
    }
  }

  // --- the other end of each edge ---------------------------------------------

  void check_source(const std::string& what, const source_ref& ref) {
    if (ref.from_flow_input) {
      if (spec_.find_input(ref.socket)) return;
      add(ref.loc, what + "unknown flow input " + quote(ref.socket) +
                       did_you_mean(ref.socket, input_names_) +
                       (input_names_.empty() ? "; the flow declares no inputs"
                                             : "; flow inputs are: " + join(input_names_)));
      return;
    }
    auto i = index_.find(ref.node);
    if (i == index_.end()) {
      add(ref.loc, what + "unknown node " + quote(ref.node) + did_you_mean(ref.node, node_ids_) +
                       "; nodes are: " + join(node_ids_));
      return;
    }
    const component_descriptor* d = descriptors_[i->second];
    if (!d) return;  // unknown type: its outputs are unknown too
    std::vector<std::string> outputs;
    if (d->outputs_of) {
      auto known = d->outputs_of(spec_.nodes[i->second]);
      if (!known) return;  // known once built: compile() checks this edge
      outputs = std::move(*known);
    } else {
      outputs = outputs_of(spec_.nodes[i->second], *d);
    }
    if (std::find(outputs.begin(), outputs.end(), ref.socket) != outputs.end()) return;
    add(ref.loc,
        what + "node " + quote(ref.node) + " (type " + d->type + ") has no output " +
            quote(ref.socket) + did_you_mean(ref.socket, outputs) +
            (outputs.empty() ? "; it has no outputs" : "; its outputs are: " + join(outputs)));
  }

  // A type that declares an array param `outputs` (`lua`) has the output
  // sockets each node lists there; the descriptor's are the default. The
  // component itself checks the names when it is built.
  static std::vector<std::string> outputs_of(const node_spec& node, const component_descriptor& d) {
    bool declared = std::any_of(d.params.begin(), d.params.end(), [](const param_spec& p) {
      return p.name == "outputs" && p.type == value_type::array;
    });
    auto v = node.params.find("outputs");
    if (!declared || v == node.params.end() || !v->is_array()) return d.outputs;
    std::vector<std::string> out;
    for (const value& x : *v)
      if (x.is_string()) out.push_back(x.get<std::string>());
    return out;
  }

  // --- cycles ---------------------------------------------------------------

  // An iterative depth-first search along the data flow (producer to
  // consumer); every back edge closes a cycle. Each cycle is reported once,
  // starting at the node that comes first in the file, and cycles sharing a
  // node with one already reported are left out: fixing the first usually
  // fixes them, and a tangle would otherwise flood the output.
  void check_cycles() {
    const std::size_t n = spec_.nodes.size();
    std::vector<std::vector<std::size_t>> consumers(n);
    for (std::size_t c = 0; c < n; ++c)
      for (const socket_binding& b : spec_.nodes[c].inputs)
        for (const source_ref& ref : b.sources)
          if (!ref.from_flow_input)
            if (auto p = index_.find(ref.node); p != index_.end())
              consumers[p->second].push_back(c);

    enum class mark { unseen, on_path, done };
    std::vector<mark> marks(n, mark::unseen);
    std::vector<bool> reported(n, false);
    struct frame {
      std::size_t node;
      std::size_t next_edge;
    };
    std::vector<frame> path;
    for (std::size_t root = 0; root < n; ++root) {
      if (marks[root] != mark::unseen) continue;
      path.push_back({root, 0});
      marks[root] = mark::on_path;
      while (!path.empty()) {
        frame& top = path.back();
        if (top.next_edge == consumers[top.node].size()) {
          marks[top.node] = mark::done;
          path.pop_back();
          continue;
        }
        std::size_t next = consumers[top.node][top.next_edge++];
        if (marks[next] == mark::unseen) {
          marks[next] = mark::on_path;
          path.push_back({next, 0});
        } else if (marks[next] == mark::on_path) {
          auto start = std::find_if(path.begin(), path.end(),
                                    [&](const frame& f) { return f.node == next; });
          std::vector<std::size_t> cycle;
          for (auto f = start; f != path.end(); ++f) cycle.push_back(f->node);
          report_cycle(cycle, reported);
        }
      }
    }
  }

  void report_cycle(std::vector<std::size_t> cycle, std::vector<bool>& reported) {
    if (std::any_of(cycle.begin(), cycle.end(), [&](std::size_t i) { return reported[i]; })) return;
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::string text;
    for (std::size_t i : cycle) {
      reported[i] = true;
      text += spec_.nodes[i].id + " -> ";
    }
    text += spec_.nodes[cycle.front()].id;
    const node_spec& first = spec_.nodes[cycle.front()];
    add(first.loc, "cycle: " + text + "; a flow must be acyclic (node " + quote(first.id) +
                       " depends on its own output)");
  }

  flow_spec& spec_;
  const std::vector<node_places>& places_;
  const registry& components_;
  diagnostics& errs_;
  std::map<std::string, std::size_t, std::less<>> index_;
  std::vector<const component_descriptor*> descriptors_;
  std::vector<std::string> node_ids_;
  std::vector<std::string> input_names_;
};

}  // namespace

void check_flow(read_flow& flow, const registry& components, diagnostics& errs) {
  flow_checker{flow, components, errs}.run();
}

}  // namespace weft::flows
