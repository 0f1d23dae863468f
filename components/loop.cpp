// The `loop` node type: runs a flow again and again, each iteration a child
// run fed by the one before, until a Lua condition holds.
//
//   refine:
//     type: loop
//     params: {flow: ./refine_step.yaml, max_iterations: 5, until: "outputs.score >= 0.9"}
//     inputs: {draft: write.text, score: $inputs.zero}
//
// Iteration 1 gets the node's inputs. Iteration i+1 gets the outputs of
// iteration i that have the name of one of the flow's inputs; its other
// inputs keep their first values. `until` sees `outputs` (the iteration's)
// and `iteration` (1-based). Outputs: the last iteration's outputs plus
// `iterations`. Reaching max_iterations (required, 1 to 10,000) without
// `until` holding fails the node, as LangGraph's recursion limit does,
// unless on_limit: stop; with no `until` the loop simply runs
// max_iterations times. Child runs' root spans carry weft.loop.iteration.
#include "components/child_flow.hpp"
#include "components/lua_sandbox.hpp"
#include "components/register.hpp"

namespace weft::components {
namespace {

using namespace flows;

struct loop_settings {
  std::shared_ptr<const plan> child;
  std::int64_t max_iterations = 1;
  lua_script until;  // empty: none
  std::string until_text;
  bool stop_at_limit = false;
  lua_limits limits;
};

struct loop_run : std::enable_shared_from_this<loop_run> {
  const loop_settings* cfg;
  node_context* ctx;
  value_map inputs;
  std::int64_t iteration = 0;

  void next() {
    ++iteration;
    child_run run;
    run.flow = cfg->child;
    run.inputs = inputs;
    run.attributes.emplace_back("weft.loop.iteration", iteration);
    run.label = std::to_string(iteration);
    auto self = shared_from_this();
    ctx->run_child(std::move(run), [self](child_result r) { self->done(std::move(r)); });
  }

  void done(child_result r) {
    if (!r.ok) {
      ctx->fail("loop: iteration " + std::to_string(iteration) + " failed: " + r.error,
                "loop.iteration");
      return;
    }
    bool stop = false;
    if (cfg->until) {
      const value it = iteration;
      lua_binding globals[] = {{"outputs", &r.outputs, nullptr}, {"iteration", nullptr, &it}};
      auto t = lua_sandbox::test(cfg->until, globals, cfg->limits);
      if (!t.ok()) {
        ctx->fail("loop: until: " + t.error, "loop.until");
        return;
      }
      stop = t.value;
    }
    if (!stop && iteration >= cfg->max_iterations) {
      if (cfg->until && !cfg->stop_at_limit) {
        ctx->fail("loop: reached max_iterations (" + std::to_string(cfg->max_iterations) +
                      ") without `" + cfg->until_text +
                      "` becoming true; raise max_iterations, "
                      "or set on_limit: stop to take the last iteration's outputs",
                  "loop.limit");
        return;
      }
      stop = true;
    }
    if (stop) {
      ctx->set_attribute("weft.loop.iterations", iteration);
      r.outputs["iterations"] = iteration;
      ctx->complete(std::move(r.outputs));
      return;
    }
    // Carry over what the next iteration takes by name.
    for (auto& [k, v] : r.outputs)
      if (cfg->child->spec.find_input(k)) inputs[k] = std::move(v);
    next();
  }
};

class loop_component final : public component, public declares_outputs {
 public:
  explicit loop_component(loop_settings s) : s_(std::move(s)) {
    for (const auto& o : s_.child->spec.outputs) outputs_.push_back(o.name);
    outputs_.emplace_back("iterations");
  }

  void start(node_context& ctx, value_map inputs) const override {
    auto l = std::make_shared<loop_run>();
    l->cfg = &s_;
    l->ctx = &ctx;
    l->inputs = std::move(inputs);
    l->next();
  }

  const std::vector<std::string>& output_names() const override { return outputs_; }

 private:
  loop_settings s_;
  std::vector<std::string> outputs_;
};

std::shared_ptr<const component> make(const node_spec& n, const component_services& svc,
                                      diagnostics& errs) {
  bool ok = true;
  loop_settings s;
  if (!n.params.contains("max_iterations")) {
    errs.push_back({n.loc, "node '" + n.id +
                               "': param 'max_iterations' is required (1 to 10000): "
                               "a loop must be bounded"});
    ok = false;
  }
  s.max_iterations = int_param(n, "max_iterations", 1, 1, 10000, errs, ok);
  if (auto e = n.params.find("on_limit"); e != n.params.end()) {
    if (*e == "stop") s.stop_at_limit = true;
    else if (*e != "fail") {
      errs.push_back({param_at(n, "on_limit"),
                      "node '" + n.id + "': param 'on_limit' is fail or stop, got " + e->dump()});
      ok = false;
    }
  }
  if (auto u = n.params.find("until"); u != n.params.end()) {
    if (!u->is_string()) {
      errs.push_back({param_at(n, "until"),
                      "node '" + n.id + "': param 'until' must be a Lua expression (a string)"});
      ok = false;
    } else {
      s.until_text = u->get<std::string>();
      auto c = lua_sandbox::compile_expression(s.until_text, "params.until");
      if (!c.ok()) {
        errs.push_back({param_at(n, "until"),
                        "node '" + n.id + "': param 'until': Lua syntax error: " + c.error});
        ok = false;
      } else {
        s.until = std::move(c.script);
      }
    }
  }
  s.limits.max_depth = static_cast<int>(std::min<std::size_t>(svc.max_value_depth, 256));
  s.limits.instructions_name = "the loop's until";
  s.child = child_flow(n, svc, errs);
  if (!s.child) return nullptr;
  ok = check_child_inputs(n, *s.child, {}, {}, errs) && ok;
  for (const auto& o : s.child->spec.outputs)
    if (o.name == "iterations") {
      errs.push_back({param_at(n, "flow"),
                      "node '" + n.id + "': flow '" + s.child->name() +
                          "' has an output named 'iterations', which the loop sets itself"});
      ok = false;
    }
  if (!ok) return nullptr;
  return std::make_shared<loop_component>(std::move(s));
}

}  // namespace

void register_loop(flows::registry& reg) {
  component_descriptor d;
  d.type = "loop";
  d.summary =
      "Runs a flow repeatedly, each iteration fed by the last, until a Lua condition holds.";
  d.open_inputs = true;
  d.params = {{"flow", value_type::any, true},
              {"max_iterations", value_type::integer, false},
              {"until", value_type::string, false},
              {"on_limit", value_type::string, false}};
  d.make = make;
  d.runs_children = true;
  d.outputs_of = [](const node_spec&) -> std::optional<std::vector<std::string>> {
    return std::nullopt;
  };
  reg.add(std::move(d));
}

}  // namespace weft::components
