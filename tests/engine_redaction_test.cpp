// Secrets never leave a run (DESIGN invariant 7), by value: a secret that
// entered a run under a secret key, or came from ${ENV} into a param, is
// masked in every span attribute, status message and error, whatever socket
// or node it has reached.
#include <set>

#include "flows/plan.hpp"
#include "support/engine_fixture.hpp"

using namespace weft;
using weft::test::find_span;
using weft::test::must_load;
using weft::test::spans_of;
using weft::test::str_attr;

namespace {

constexpr const char* input_secret = "sk-live-4f9Q2xK7pL0mZ8vR";
constexpr const char* env_secret = "ghp_Env7Secret3Value9Tk2";

// Fails the test when any text of any span holds `secret` or a run of 6 of
// its characters.
void check_no_leak(const std::vector<tracing::span_record>& spans, const std::string& secret) {
  auto check_text = [&](const std::string& where, const std::string& text) {
    for (std::size_t i = 0; i + 6 <= secret.size(); ++i) {
      INFO(where << ": " << text);
      CHECK(text.find(secret.substr(i, 6)) == std::string::npos);
    }
  };
  for (auto& s : spans) {
    check_text(s.name + " name", s.name);
    check_text(s.name + " status", s.status_message);
    for (auto& a : s.attributes)
      if (auto p = std::get_if<std::string>(&a.value)) check_text(s.name + " " + a.key, *p);
  }
}

std::shared_ptr<const flows::plan> load_with_env(engine& eng, const std::string& text) {
  flows::diagnostics errs;
  auto env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "TEST_TOKEN") return std::string(env_secret);
    return std::nullopt;
  };
  auto plan =
      flows::load_flow_text(text, "secrets.yaml", engine_internals::components(eng), errs, env);
  std::string all;
  for (auto& d : errs) all += d.to_string() + "\n";
  INFO(all);
  REQUIRE(plan);
  return plan;
}

engine_options content_options(const std::shared_ptr<test::span_store>& store, bool content) {
  auto o = test::memory_options(store);
  o.settings.tracing.content = content;
  return o;
}

}  // namespace

TEST_CASE("redaction by value: an input under a secret key, in a socket named k",
          "[redaction][engine]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(content_options(store, true));
  auto flow = must_load(eng, R"(
flow: keyed
inputs: {api_key: {type: string}, q: {type: string}}
nodes:
  hop: {type: passthrough, inputs: {value: $inputs.api_key}}
  use: {type: template, params: {template: "q={{q}}"}, inputs: {k: hop.value, q: $inputs.q}}
outputs: {out: use.text, key: hop.value}
)");
  auto r = eng.run(flow, {{"api_key", input_secret}, {"q", "what"}}).get();
  REQUIRE(r.ok);
  // The caller gets its outputs as they are: they are the run's answer.
  CHECK(r.outputs["key"] == input_secret);
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 3);
  check_no_leak(spans, input_secret);
  auto use = find_span(spans, "use");
  REQUIRE(use);
  CHECK(str_attr(*use, "weft.inputs") == R"({"k":"***","q":"what"})");
  auto hop = find_span(spans, "hop");
  REQUIRE(hop);
  CHECK(str_attr(*hop, "weft.outputs") == R"({"value":"***"})");
  auto root = find_span(spans, "keyed");
  REQUIRE(root);
  CHECK(str_attr(*root, "weft.inputs") == R"({"api_key":"***","q":"what"})");
  CHECK(str_attr(*root, "weft.outputs") == R"({"key":"***","out":"q=what"})");
}

TEST_CASE("redaction by value: nested secret inputs, and runs do not share secrets",
          "[redaction][engine]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(content_options(store, true));
  auto flow = must_load(eng, R"(
flow: nested
inputs: {cfg: {type: object}, note: {type: string}}
nodes:
  show: {type: template, params: {template: "{{note}}"}, inputs: {note: $inputs.note}}
outputs: {out: show.text}
)");
  // The secret sits two levels down, under "password"; the note quotes it.
  auto with = eng.run(flow, {{"cfg", {{"db", {{"password", "hunter2-long-pw"}}}}},
                             {"note", "pw is hunter2-long-pw"}})
                  .get();
  // Another run with the same note but no secret: nothing to mask there.
  auto without =
      eng.run(flow, {{"cfg", {{"db", {{"host", "h"}}}}}, {"note", "pw is hunter2-long-pw"}}).get();
  REQUIRE(with.ok);
  REQUIRE(without.ok);
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), with.trace_id);
  check_no_leak(spans, "hunter2-long-pw");
  REQUIRE(find_span(spans, "show"));
  CHECK(str_attr(*find_span(spans, "show"), "weft.outputs") == R"({"text":"pw is ***"})");
  auto other = spans_of(store->snapshot(), without.trace_id);
  REQUIRE(find_span(other, "show"));
  CHECK(str_attr(*find_span(other, "show"), "weft.outputs") ==
        R"({"text":"pw is hunter2-long-pw"})");
}

TEST_CASE("redaction by value: a ${ENV} value in a const param", "[redaction][engine]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(content_options(store, true));
  auto flow = load_with_env(eng, R"(
flow: envconst
nodes:
  creds: {type: const, params: {value: {header: "Bearer ${TEST_TOKEN}", n: 1}}}
  copy: {type: passthrough, inputs: {value: creds.value}}
outputs: {v: copy.value}
)");
  REQUIRE(flow->env_secrets);
  CHECK(flow->env_secrets->size() == 1);
  auto r = eng.run(flow, {}).get();
  REQUIRE(r.ok);
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  check_no_leak(spans, env_secret);
  auto creds = find_span(spans, "creds");
  REQUIRE(creds);
  CHECK(str_attr(*creds, "weft.outputs") == R"({"value":{"header":"Bearer ***","n":1}})");
  REQUIRE(find_span(spans, "copy"));
  CHECK(str_attr(*find_span(spans, "copy"), "weft.inputs") ==
        R"({"value":{"header":"Bearer ***","n":1}})");
}

TEST_CASE("redaction by value: a template output holding part of a secret", "[redaction][engine]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(content_options(store, true));
  // The template renders a secret input whole, a ${ENV} value in its own
  // text, and a fragment of the secret that came in under a plain key.
  auto flow = load_with_env(eng, R"(
flow: tmpl
inputs: {token: {type: string}, hint: {type: string}}
nodes:
  render:
    type: template
    params: {template: "auth={{t}} env=${TEST_TOKEN} hint={{h}} end"}
    inputs: {t: $inputs.token, h: $inputs.hint}
outputs: {text: render.text}
)");
  const std::string secret = input_secret;
  auto r = eng.run(flow, {{"token", secret}, {"hint", "..." + secret.substr(4, 9) + "..."}}).get();
  REQUIRE(r.ok);
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  check_no_leak(spans, input_secret);
  check_no_leak(spans, env_secret);
  auto render = find_span(spans, "render");
  REQUIRE(render);
  CHECK(str_attr(*render, "weft.outputs") == R"({"text":"auth=*** env=*** hint=...***... end"})");
}

TEST_CASE("redaction by value: a fail message built from ${ENV}, content tracing off",
          "[redaction][engine]") {
  auto store = std::make_shared<test::span_store>();
  engine eng(content_options(store, false));
  auto flow = load_with_env(eng, R"(
flow: failing
nodes:
  bad: {type: fail, params: {message: "upstream refused key ${TEST_TOKEN}"}}
outputs: {v: bad.value}
)");
  auto r = eng.run(flow, {}).get();
  REQUIRE_FALSE(r.ok);
  // The error the engine returns is what `weft run` prints and `weft serve`
  // puts in its 422 body.
  CHECK(r.error == "node 'bad' failed: upstream refused key ***");
  CHECK(r.failed_node == "bad");
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  REQUIRE(spans.size() == 2);
  check_no_leak(spans, env_secret);
  auto bad = find_span(spans, "bad");
  REQUIRE(bad);
  CHECK(bad->status_message == "upstream refused key ***");
  auto root = find_span(spans, "failing");
  REQUIRE(root);
  CHECK(root->status_message == "node 'bad' failed: upstream refused key ***");
}

TEST_CASE("redaction by value: a component's attributes and exception text",
          "[redaction][engine]") {
  // A component that echoes its input into an attribute and then throws
  // with it: the way an HTTP client might quote a header back.
  struct echo_then_throw final : flows::component {
    void start(flows::node_context& ctx, flows::value_map inputs) const override {
      const auto v = inputs.at("value").get<std::string>();
      ctx.set_attribute("http.request.header", "Authorization: Bearer " + v);
      throw std::runtime_error("server said: bad key " + v);
    }
  };
  auto store = std::make_shared<test::span_store>();
  engine eng(content_options(store, false));
  flows::component_descriptor d;
  d.type = "echo_throw";
  d.summary = "test";
  d.inputs = {{"value", true, false}};
  d.outputs = {"value"};
  d.make = [](const flows::node_spec&, const flows::component_services&,
              flows::diagnostics&) -> std::shared_ptr<const flows::component> {
    return std::make_shared<echo_then_throw>();
  };
  engine_internals::components(eng).add(d);
  auto flow = must_load(eng, R"(
flow: throwing
inputs: {secret: {type: string}}
nodes:
  call: {type: echo_throw, inputs: {value: $inputs.secret}}
outputs: {v: call.value}
)");
  auto r = eng.run(flow, {{"secret", input_secret}}).get();
  REQUIRE_FALSE(r.ok);
  CHECK(r.error == "node 'call' failed: exception: server said: bad key ***");
  eng.shutdown();
  auto spans = spans_of(store->snapshot(), r.trace_id);
  check_no_leak(spans, input_secret);
  auto call = find_span(spans, "call");
  REQUIRE(call);
  CHECK(str_attr(*call, "http.request.header") == "Authorization: Bearer ***");
}
