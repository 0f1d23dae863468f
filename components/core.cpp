// The core component family: template, passthrough, const, sleep, fail.
#include "components/mustache_data.hpp"
#include "components/register.hpp"

namespace weft::components {
namespace {

using namespace flows;

class template_component final : public sync_component {
 public:
  explicit template_component(std::string text) : text_(std::move(text)) {}

  value_map run(const value_map& inputs) const override {
    auto ctx = mustache_context(inputs);
    // kainjow's render is not const: each execution renders its own copy of
    // the (already validated) template, so concurrent runs share nothing.
    mst::mustache tmpl{text_};
    std::string out = tmpl.render(ctx);
    if (!tmpl.is_valid()) throw std::runtime_error("template: " + tmpl.error_message());
    return {{"text", value(std::move(out))}};
  }

 private:
  std::string text_;
};

class passthrough_component final : public sync_component {
 public:
  value_map run(const value_map& inputs) const override {
    auto i = inputs.find("value");
    return {{"value", i == inputs.end() ? value() : i->second}};
  }
};

class const_component final : public sync_component {
 public:
  explicit const_component(value v) : v_(std::move(v)) {}
  value_map run(const value_map&) const override { return {{"value", v_}}; }

 private:
  value v_;
};

class sleep_component final : public component {
 public:
  explicit sleep_component(std::int64_t ms) : ms_(ms) {}
  void start(node_context& ctx, value_map inputs) const override {
    auto i = inputs.find("value");
    value v = i == inputs.end() ? value() : std::move(i->second);
    // The wait is a delayed message to the node's own actor: no thread waits.
    ctx.after(std::chrono::milliseconds(ms_), [&ctx, v = std::move(v)]() mutable {
      ctx.complete({{"value", std::move(v)}});
    });
  }

 private:
  std::int64_t ms_;
};

class fail_component final : public component {
 public:
  explicit fail_component(std::string msg) : msg_(std::move(msg)) {}
  void start(node_context& ctx, value_map) const override { ctx.fail(msg_); }

 private:
  std::string msg_;
};

void add_error(diagnostics& errs, const node_spec& n, std::string msg) {
  errs.push_back({n.loc, "node '" + n.id + "': " + std::move(msg)});
}

}  // namespace

void register_core(registry& r) {
  r.add({"template",
         "Renders a mustache template over its inputs (any socket names).",
         {},
         true,
         {"text"},
         {{"template", value_type::string, true}},
         false,
         [](const node_spec& n, const component_services&,
            diagnostics& errs) -> std::shared_ptr<const component> {
           auto text = n.params.value("template", std::string{});
           mst::mustache probe{text};
           if (!probe.is_valid()) {
             add_error(errs, n, "param 'template' does not parse: " + probe.error_message());
             return nullptr;
           }
           return std::make_shared<template_component>(std::move(text));
         }});
  r.add({"passthrough",
         "Passes its input 'value' through unchanged.",
         {{"value", true, false}},
         false,
         {"value"},
         {},
         false,
         [](const node_spec&, const component_services&,
            diagnostics&) -> std::shared_ptr<const component> {
           return std::make_shared<passthrough_component>();
         }});
  r.add({"const",
         "Outputs the constant param 'value'.",
         {},
         false,
         {"value"},
         {{"value", value_type::any, true}},
         false,
         [](const node_spec& n, const component_services&,
            diagnostics&) -> std::shared_ptr<const component> {
           return std::make_shared<const_component>(n.params.at("value"));
         }});
  r.add({"sleep",
         "Waits 'ms' milliseconds without blocking a thread, then passes 'value' through.",
         {{"value", false, false}},
         false,
         {"value"},
         {{"ms", value_type::integer, true}},
         false,
         [](const node_spec& n, const component_services&,
            diagnostics& errs) -> std::shared_ptr<const component> {
           auto ms = n.params.at("ms").get<std::int64_t>();
           if (ms < 0) {
             add_error(errs, n, "param 'ms' must be >= 0, got " + std::to_string(ms));
             return nullptr;
           }
           return std::make_shared<sleep_component>(ms);
         }});
  r.add({"fail",
         "Always fails with param 'message' (for trying error paths).",
         {{"value", false, false}},
         false,
         {"value"},
         {{"message", value_type::string, false}},
         false,
         [](const node_spec& n, const component_services&,
            diagnostics&) -> std::shared_ptr<const component> {
           return std::make_shared<fail_component>(
               n.params.value("message", std::string{"failed"}));
         }});
}

}  // namespace weft::components
