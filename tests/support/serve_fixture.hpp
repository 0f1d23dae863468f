// An in-process `weft serve` for tests: a real engine with the io
// middleman, the service with its routes, and the HTTP server on a free
// loopback port. Spans go to a memory sink that tests read directly.
#pragma once

#include <sys/resource.h>
#include <functional>

#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "net/http_server.hpp"
#include "serve/service.hpp"
#include "support/engine_fixture.hpp"
#include "support/memory_sink.hpp"

namespace weft::test {

/// Flows the server tests serve.
inline const char* const serve_flows[] = {
    R"(
flow: echo
description: Hands its input back.
inputs: {x: {type: any}, n: {type: integer, default: 1}}
nodes:
  first: {type: passthrough, inputs: {value: $inputs.x}}
outputs: {y: first.value}
)",
    R"(
flow: fan
description: Four parallel branches with sleeps, joined.
inputs: {x: {type: string}}
nodes:
  a: {type: sleep, params: {ms: 150}, inputs: {value: $inputs.x}}
  b: {type: sleep, params: {ms: 400}, inputs: {value: $inputs.x}}
  c: {type: sleep, params: {ms: 20}, inputs: {value: $inputs.x}}
  d: {type: sleep, params: {ms: 250}, inputs: {value: $inputs.x}}
  join:
    type: template
    params: {template: "{{a}}|{{b}}|{{c}}|{{d}}"}
    inputs: {a: a.value, b: b.value, c: c.value, d: d.value}
outputs: {all: join.text}
)",
    R"(
flow: slow
inputs: {x: {type: any, default: 1}}
nodes:
  nap: {type: sleep, params: {ms: 300}, inputs: {value: $inputs.x}}
outputs: {y: nap.value}
)",
    R"(
flow: boom
inputs: {x: {type: any, default: 1}}
nodes:
  bad: {type: fail, params: {message: "the node broke on purpose"}, inputs: {value: $inputs.x}}
outputs: {y: bad.value}
)",
};

/// Lifts the open-file limit to its hard maximum: a test with a thousand
/// connections needs two descriptors for each (client and server side).
inline void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

struct serve_fixture {
  std::shared_ptr<span_store> store = std::make_shared<span_store>();
  std::shared_ptr<serve::genai_metrics> genai = std::make_shared<serve::genai_metrics>();
  std::unique_ptr<engine> eng;
  std::unique_ptr<serve::service> svc;
  std::unique_ptr<net::http_server> server;

  /// `setup` runs before the flows load (to register test component
  /// types); `extra_flows` are served beside serve_flows.
  explicit serve_fixture(serve::service_config sc = {}, net::http_server_config hc = {},
                         const std::function<void(engine&)>& setup = {},
                         const std::vector<std::string>& extra_flows = {}) {
    raise_fd_limit();
    auto opts = memory_options(store);
    opts.network = true;
    opts.on_llm_call = [g = genai](const llm_call_record& c) { g->record(c); };
    eng = std::make_unique<engine>(std::move(opts));
    if (setup) setup(*eng);
    serve::flow_catalog cat;
    for (auto* text : serve_flows) REQUIRE(cat.add(must_load(*eng, text)));
    for (auto& text : extra_flows) REQUIRE(cat.add(must_load(*eng, text)));
    svc = std::make_unique<serve::service>(*eng, std::move(cat), sc);
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
    svc->attach_genai(genai);
  }

  ~serve_fixture() {
    if (server) server->drain(std::chrono::seconds(5));
    server.reset();
    if (eng) eng->shutdown();
  }

  std::uint16_t port() const { return server->port(); }

  /// The spans of one trace, once `count` of them arrived (or after 5 s).
  std::vector<tracing::span_record> wait_spans(const std::string& trace_hex, std::size_t count) {
    for (int i = 0; i < 500; ++i) {
      auto s = spans_of(store->snapshot(), trace_hex);
      if (s.size() >= count) return s;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return spans_of(store->snapshot(), trace_hex);
  }
};

}  // namespace weft::test
