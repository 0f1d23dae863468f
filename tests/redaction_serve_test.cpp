// Secrets never reach an HTTP error body: a run that fails with a message
// built from ${ENV}, or quoting a secret input, answers 422 with the secret
// masked. The server does nothing for this; the engine hands it a clean
// error. A real in-process `weft serve` on loopback, like the serve tests.
#include "flows/plan.hpp"
#include "support/raw_http.hpp"
#include "support/serve_fixture.hpp"

using namespace weft;
using weft::test::http_exchange;
using weft::test::json_post;

namespace {

constexpr const char* env_secret = "xoxb-Env-8d7F6s5A4q3W2e1R";
constexpr const char* input_secret = "sk-input-Zx9Cv8Bn7Mm6Lk5J";

// A component that fails quoting its input, as a client library might
// quote a rejected key back.
struct quote_and_fail final : flows::component {
  void start(flows::node_context& ctx, flows::value_map inputs) const override {
    ctx.fail("backend rejected key " + inputs.at("value").get<std::string>());
  }
};

// serve_fixture's setup, over flows of this file: one loaded with a fake
// environment (so the test needs no setenv), one that fails on its input.
struct secret_server {
  std::shared_ptr<test::span_store> store = std::make_shared<test::span_store>();
  std::unique_ptr<engine> eng;
  std::unique_ptr<serve::service> svc;
  std::unique_ptr<net::http_server> server;

  secret_server() {
    auto opts = test::memory_options(store);
    opts.network = true;
    eng = std::make_unique<engine>(std::move(opts));
    flows::component_descriptor d;
    d.type = "quote_fail";
    d.summary = "fails quoting its input";
    d.inputs = {{"value", true, false}};
    d.outputs = {"value"};
    d.make = [](const flows::node_spec&, const flows::component_services&,
                flows::diagnostics&) -> std::shared_ptr<const flows::component> {
      return std::make_shared<quote_and_fail>();
    };
    engine_internals::components(*eng).add(d);

    serve::flow_catalog cat;
    flows::diagnostics errs;
    auto env = [](const std::string& name) -> std::optional<std::string> {
      if (name == "SLACK_TOKEN") return std::string(env_secret);
      return std::nullopt;
    };
    auto env_flow =
        flows::load_flow_text(R"(
flow: envfail
nodes:
  post: {type: fail, params: {message: "slack said invalid_auth for ${SLACK_TOKEN}"}}
outputs: {v: post.value}
)",
                              "envfail.yaml", engine_internals::components(*eng), errs, env);
    REQUIRE(env_flow);
    REQUIRE(cat.add(env_flow));
    REQUIRE(cat.add(test::must_load(*eng, R"(
flow: inputfail
inputs: {api_key: {type: string}}
nodes:
  call: {type: quote_fail, inputs: {value: $inputs.api_key}}
outputs: {v: call.value}
)")));
    svc = std::make_unique<serve::service>(*eng, std::move(cat), serve::service_config{});
    net::http_server_config hc;
    hc.host = "127.0.0.1";
    hc.port = 0;
    hc.on_response = [s = svc.get()](int status) { s->on_response(status); };
    auto started =
        net::http_server::start(engine_internals::system(*eng), hc,
                                [s = svc.get()](net::server_request req, net::responder reply) {
                                  s->handle(std::move(req), std::move(reply));
                                });
    REQUIRE(started);
    server = std::move(*started);
    svc->attach_server(server.get());
  }

  ~secret_server() {
    if (server) server->drain(std::chrono::seconds(5));
    server.reset();
    if (eng) eng->shutdown();
  }
};

void check_masked(const std::string& body, const std::string& secret) {
  INFO(body);
  for (std::size_t i = 0; i + 6 <= secret.size(); ++i)
    CHECK(body.find(secret.substr(i, 6)) == std::string::npos);
}

}  // namespace

TEST_CASE("redaction by value: the 422 body of weft serve", "[redaction][serve_redaction]") {
  secret_server s;

  auto r = http_exchange(s.server->port(), json_post("/v1/flows/envfail/runs", "{}"));
  REQUIRE(r);
  CHECK(r->status == 422);
  check_masked(r->body, env_secret);
  auto body = flows::value::parse(r->body);
  CHECK(body["error"]["code"] == "run_failed");
  CHECK(body["error"]["message"] == "node 'post' failed: slack said invalid_auth for ***");

  r = http_exchange(s.server->port(), json_post("/v1/flows/inputfail/runs",
                                                std::string(R"({"inputs": {"api_key": ")") +
                                                    input_secret + R"("}})"));
  REQUIRE(r);
  CHECK(r->status == 422);
  check_masked(r->body, input_secret);
  body = flows::value::parse(r->body);
  CHECK(body["error"]["message"] == "node 'call' failed: backend rejected key ***");
}
