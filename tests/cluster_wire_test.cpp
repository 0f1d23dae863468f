// What crosses between fronts and workers (cluster/wire.hpp): every type
// survives CAF's binary serialization unchanged, the way BASP sends it;
// endpoints parse or say what is wrong; keys compare; flow content hashes
// tell versions apart.
#include <catch2/catch.hpp>

#include <caf/all.hpp>

#include "cluster/wire.hpp"
#include "flows/parser.hpp"
#include "support/flow_dir.hpp"
#include "weft/engine.hpp"

using namespace weft;
using namespace weft::cluster;

namespace {

struct wire_system {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  wire_system() {
    add_types(cfg);
    sys = std::make_unique<caf::actor_system>(cfg);
  }
};

// Serializes `x` as one message element (with its registered type name,
// as the middleman does) and reads it back.
template <class T>
T round_trip(caf::actor_system& sys, const T& x) {
  auto msg = caf::make_message(x);
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto err = sink(msg);
  REQUIRE_FALSE(err);
  caf::message back;
  caf::binary_deserializer source{sys, buf};
  err = source(back);
  REQUIRE_FALSE(err);
  REQUIRE(back.match_elements<T>());
  return back.get_as<T>(0);
}

wire_trace sample_trace() {
  wire_trace t;
  t.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  t.parent_span_id = "00f067aa0ba902b7";
  t.sampled = false;
  t.tracestate = "vendor=abc,other=1";
  t.session_id = "sess-ü-1";
  t.user_id = std::string("user\0with nul", 13);
  return t;
}

}  // namespace

TEST_CASE("cluster wire: every type crosses the serializer unchanged", "[cluster]") {
  wire_system w;
  auto& sys = *w.sys;
  SECTION("wire_trace") {
    auto t = sample_trace();
    CHECK(round_trip(sys, t) == t);
  }
  SECTION("run_request") {
    run_request r;
    r.run_id = "run-1";
    r.flow = "ticket";
    r.flow_hash = "0123456789abcdef";
    r.inputs_json = R"({"item":{"text":"db down","score":0.9}})";
    r.trace = sample_trace();
    r.deadline_ms = 1234567;
    r.observed = true;
    auto back = round_trip(sys, r);
    CHECK(back == r);
    CHECK(back.trace.user_id.size() == 13);
  }
  SECTION("node_request") {
    node_request n;
    n.run.run_id = "run-1";
    n.run.flow = "ticket";
    n.run.flow_hash = "0123456789abcdef";
    n.run.inputs_json = R"({"prompt":"hi"})";
    n.run.trace = sample_trace();
    n.run.deadline_ms = 250;
    n.node = "embed";
    n.tags = {"gpu", "eu"};
    n.span_id = "00f067aa0ba902b7";
    n.root_run_id = "run-0";
    n.depth = 2;
    n.content = true;
    n.observed = true;
    n.secrets = {"sk-123", std::string("with\0nul", 8)};
    auto back = round_trip(sys, n);
    CHECK(back == n);
    CHECK(back.secrets[1].size() == 8);
  }
  SECTION("run_reply") {
    run_reply r;
    r.ok = true;
    r.run_id = "run-1";
    r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    r.root_span_id = "00f067aa0ba902b7";
    r.sampled = true;
    r.outputs_json = R"({"reply":"URGENT: db down"})";
    r.error = "node 'x' failed";
    r.failed_node = "x";
    r.timed_out = true;
    r.warning = "w";
    r.duration_ms = 12.5;
    r.input_tokens = 7;
    r.output_tokens = 9;
    r.worker = "127.0.0.1:7400";
    CHECK(round_trip(sys, r) == r);
  }
  SECTION("worker_status") {
    worker_status s;
    s.name = "gpu-1";
    s.tags = {"gpu", "eu"};
    s.flows = {{"ticket", "0123456789abcdef"}, {"hello", "fedcba9876543210"}};
    s.in_flight = 17;
    s.max_in_flight = 64;
    s.runs_done = 1u << 31;
    s.ready = false;
    CHECK(round_trip(sys, s) == s);
  }
  SECTION("hello_reply") {
    hello_reply h;
    h.ok = false;
    h.message = "wrong cluster key";
    h.protocol = 7;
    CHECK(round_trip(sys, h) == h);
  }
}

TEST_CASE("cluster wire: a field changed on the way is seen", "[cluster]") {
  // The comparison the round trips rely on is not vacuous.
  run_request a, b;
  a.trace = sample_trace();
  b = a;
  CHECK(a == b);
  b.trace.sampled = !b.trace.sampled;
  CHECK_FALSE(a == b);
}

TEST_CASE("cluster endpoints: host and port or bracketed IPv6 or what is wrong", "[cluster]") {
  endpoint e;
  std::string why;
  REQUIRE(parse_endpoint("127.0.0.1:7400", e, why));
  CHECK(e.host == "127.0.0.1");
  CHECK(e.port == 7400);
  CHECK(e.to_string() == "127.0.0.1:7400");
  REQUIRE(parse_endpoint("[::1]:0", e, why));
  CHECK(e.host == "::1");
  CHECK(e.port == 0);
  CHECK(e.to_string() == "[::1]:0");
  CHECK_FALSE(parse_endpoint("localhost", e, why));
  CHECK_THAT(why, Catch::Contains("HOST:PORT"));
  CHECK_FALSE(parse_endpoint("::1:7400", e, why));
  CHECK_THAT(why, Catch::Contains("brackets"));
  CHECK_FALSE(parse_endpoint("h:99999", e, why));
  CHECK_THAT(why, Catch::Contains("0 to 65535"));
  CHECK_FALSE(parse_endpoint("h:12x", e, why));
  CHECK_FALSE(parse_endpoint("[::1]7400", e, why));
}

TEST_CASE("cluster keys compare whole", "[cluster]") {
  CHECK(same_key("s3cret", "s3cret"));
  CHECK_FALSE(same_key("s3cret", "s3creT"));
  CHECK_FALSE(same_key("s3cret", "s3cret2"));
  CHECK_FALSE(same_key("", "x"));
  CHECK(same_key("", ""));
}

TEST_CASE("flow content hashes differ when the text does", "[cluster]") {
  const auto a = flows::content_hash("flow: a\n");
  CHECK(a.size() == 16);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a == flows::content_hash("flow: a\n"));
  CHECK(a != flows::content_hash("flow: a \n"));
  CHECK(flows::content_hash("") == "cbf29ce484222325");  // FNV-1a's offset basis
}

TEST_CASE("a flow's content hash covers the flows it runs", "[cluster]") {
  weft::test::flow_dir dir;
  const std::string parent = R"(flow: parent
inputs:
  x: {type: string}
nodes:
  sub: {type: flow, params: {flow: ./child.yaml}, inputs: {x: $inputs.x}}
outputs: {y: sub.y}
)";
  auto child = [](const std::string& tmpl) {
    return "flow: child\ninputs:\n  x: {type: string}\nnodes:\n  t: {type: template, params: "
           "{template: \"" +
           tmpl + "\"}, inputs: {x: $inputs.x}}\noutputs: {y: t.text}\n";
  };
  dir.write("parent.yaml", parent);
  dir.write("child.yaml", child("a {{x}}"));
  std::string first, again, edited, own;
  {
    weft::engine eng;
    auto p = eng.load_file((dir.path() / "parent.yaml").string());
    REQUIRE(p);
    first = p.flow.content_hash();
    own = flows::content_hash(parent);
  }
  {
    weft::engine eng;
    again = eng.load_file((dir.path() / "parent.yaml").string()).flow.content_hash();
  }
  dir.write("child.yaml", child("b {{x}}"));  // the parent's file is unchanged
  {
    weft::engine eng;
    auto p = eng.load_file((dir.path() / "parent.yaml").string());
    REQUIRE(p);
    edited = p.flow.content_hash();
  }
  CHECK(first == again);
  CHECK(first != own);  // not the file's text alone
  CHECK(edited != first);
  CHECK(edited.size() == 16);
}
