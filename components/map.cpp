// The `map` node type: runs a flow once per item of a list, as child runs,
// at most `max_concurrency` at a time, and gathers the results in order.
//
//   each:
//     type: map
//     params: {flow: ./summarize.yaml, max_concurrency: 8, on_error: fail}   # or collect
//     inputs: {items: fetch.docs, style: $inputs.style}
//
// Each child run gets `item` (and `index`, 0-based, when the flow declares
// it) and every other input of the node. Outputs: `results`, one per item
// in item order (the child's outputs as an object, or with `output: name`
// that one output's value), and `errors`, [{index, error}] (with
// on_error: collect; a failed item's result is then null; in item order). Under
// on_error: fail the first failure cancels the items still running and
// fails the node. Child runs' root spans carry weft.map.index; their events
// reach the observer as [each, "3", node].

#include <algorithm>

#include "components/child_flow.hpp"
#include "components/register.hpp"
#include "flows/inputs.hpp"

namespace weft::components {
namespace {

using namespace flows;

struct map_settings {
  std::shared_ptr<const plan> child;
  std::int64_t max_concurrency = 8;
  std::int64_t max_items = 10000;
  bool collect = false;
  std::string output;  // empty: the whole outputs object
  bool wants_index = false;
};

// One execution of a map node, on its actor.
struct map_run : std::enable_shared_from_this<map_run> {
  const map_settings* cfg;
  node_context* ctx;
  value items;
  value_map shared;  // the node's other inputs, for every item
  std::vector<value> results;
  std::vector<std::pair<std::size_t, std::string>> errors;  // (index, error)
  std::size_t next = 0, live = 0, finished = 0;
  std::vector<std::uint64_t> ids;  // child run per item (0: not started or done)
  bool failed = false;

  void fill() {
    while (!failed && live < static_cast<std::size_t>(cfg->max_concurrency) && next < items.size())
      start(next++);
    if (!failed && finished == items.size()) done();
  }

  void start(std::size_t i) {
    child_run run;
    run.flow = cfg->child;
    run.inputs = shared;
    run.inputs["item"] = std::move(items[i]);
    if (cfg->wants_index) run.inputs["index"] = static_cast<std::int64_t>(i);
    run.attributes.emplace_back("weft.map.index", static_cast<std::int64_t>(i));
    run.label = std::to_string(i);
    ++live;
    auto self = shared_from_this();
    ids[i] = ctx->run_child(std::move(run),
                            [self, i](child_result r) { self->item_done(i, std::move(r)); });
  }

  void item_done(std::size_t i, child_result r) {
    --live;
    ++finished;
    ids[i] = 0;
    if (failed) return;
    if (!r.ok) {
      if (!cfg->collect) {
        failed = true;
        for (auto id : ids)
          if (id) ctx->cancel_child(id, "cancelled: map item " + std::to_string(i) + " failed");
        ctx->fail("map: item " + std::to_string(i) + " failed: " + r.error, "map.item");
        return;
      }
      errors.emplace_back(i, std::move(r.error));
    } else if (cfg->output.empty()) {
      value o = value::object();
      for (auto& [k, v] : r.outputs) o[k] = std::move(v);
      results[i] = std::move(o);
    } else {
      auto o = r.outputs.find(cfg->output);
      if (o != r.outputs.end()) results[i] = std::move(o->second);
    }
    fill();
  }

  void done() {
    ctx->set_attribute("weft.map.items", static_cast<std::int64_t>(items.size()));
    ctx->set_attribute("weft.map.failed", static_cast<std::int64_t>(errors.size()));
    value out = value::array();
    for (auto& r : results) out.push_back(std::move(r));
    // In item order, like the results, whatever order the items ended in.
    std::sort(errors.begin(), errors.end());
    value errs = value::array();
    for (auto& [i, e] : errors)
      errs.push_back({{"index", static_cast<std::int64_t>(i)}, {"error", std::move(e)}});
    ctx->complete({{"results", std::move(out)}, {"errors", std::move(errs)}});
  }
};

class map_component final : public component {
 public:
  explicit map_component(map_settings s) : s_(std::move(s)) {}

  void start(node_context& ctx, value_map inputs) const override {
    auto it = inputs.find("items");
    if (it == inputs.end() || !it->second.is_array()) {
      ctx.fail(std::string("map: input 'items' must be an array, got ") +
                   (it == inputs.end() ? "nothing" : type_name_of(it->second)),
               "map.items");
      return;
    }
    if (it->second.size() > static_cast<std::size_t>(s_.max_items)) {
      ctx.fail("map: " + std::to_string(it->second.size()) + " items, more than max_items (" +
                   std::to_string(s_.max_items) + ")",
               "map.items");
      return;
    }
    auto m = std::make_shared<map_run>();
    m->cfg = &s_;
    m->ctx = &ctx;
    m->items = std::move(it->second);
    inputs.erase(it);
    m->shared = std::move(inputs);
    m->results.resize(m->items.size());
    m->ids.assign(m->items.size(), 0);
    m->fill();
  }

 private:
  map_settings s_;
};

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  bool ok = true;
  map_settings s;
  s.max_concurrency = int_param(n, "max_concurrency", 8, 1, 10000, errs, ok);
  s.max_items = int_param(n, "max_items", 10000, 1, 1000000, errs, ok);
  if (auto e = n.params.find("on_error"); e != n.params.end()) {
    if (*e == "collect") s.collect = true;
    else if (*e != "fail") {
      errs.push_back(
          {param_at(n, "on_error"),
           "node '" + n.id + "': param 'on_error' is fail or collect, got " + e->dump()});
      ok = false;
    }
  }
  s.child = child_flow(n, svc, errs);
  if (!s.child) return nullptr;
  if (!s.child->spec.find_input("item")) {
    errs.push_back(
        {param_at(n, "flow"), "node '" + n.id + "': flow '" + s.child->name() +
                                  "' must declare an input 'item' (each item goes there)"});
    return nullptr;
  }
  s.wants_index = s.child->spec.find_input("index") != nullptr;
  std::set<std::string> provided{"item"};
  if (s.wants_index) provided.insert("index");
  ok = check_child_inputs(n, *s.child, {"items"}, provided, errs) && ok;
  if (auto o = n.params.find("output"); o != n.params.end()) {
    bool known = false;
    for (const auto& d : s.child->spec.outputs) known = known || (o->is_string() && d.name == *o);
    if (!known) {
      errs.push_back({param_at(n, "output"), "node '" + n.id +
                                                 "': param 'output' must name an output of flow '" +
                                                 s.child->name() + "', got " + o->dump()});
      ok = false;
    } else {
      s.output = o->get<std::string>();
    }
  }
  if (!ok) return nullptr;
  return std::make_shared<map_component>(std::move(s));
}

}  // namespace

void register_map(flows::registry& reg) {
  component_descriptor d;
  d.type = "map";
  d.summary =
      "Runs a flow per item of `items`, at most max_concurrency at once; results in item order.";
  d.inputs = {{"items", true, false}};
  d.open_inputs = true;
  d.outputs = {"results", "errors"};
  d.params = {{"flow", value_type::any, true},
              {"max_concurrency", value_type::integer, false},
              {"max_items", value_type::integer, false},
              {"on_error", value_type::string, false},
              {"output", value_type::string, false}};
  d.make = make;
  d.runs_children = true;
  reg.add(std::move(d));
}

}  // namespace weft::components
