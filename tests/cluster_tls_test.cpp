// TLS between a front and a `weft worker` (cluster/tls.hpp), with
// certificates the test makes with the openssl command: a cluster CA, a
// certificate it signed for the nodes, and one from another CA. A front
// with the cluster's certificate runs on the worker; a plain front, and a
// front whose certificate another CA signed, never get through.
#include <catch2/catch.hpp>

#include <signal.h>

#include <cstdlib>

#include "support/cluster_workers.hpp"
#include "weft/weft.hpp"

using namespace weft;
using namespace weft::test;
using namespace std::chrono_literals;

namespace {

// A CA and a node certificate it signed, as PEM files in dir/NAME.*.
void make_ca_and_node(const flow_dir& dir, const std::string& name) {
  const auto p = (dir.path() / name).string();
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string cmd = "openssl req -x509" + ec + " -keyout '" + p + "-ca.key' -out '" + p +
                          "-ca.pem' -days 2 -subj /CN=" + name + "-ca 2>/dev/null && openssl req" +
                          ec + " -keyout '" + p + ".key' -out '" + p + ".csr' -subj /CN=" + name +
                          "-node 2>/dev/null && openssl x509 -req -in '" + p + ".csr' -CA '" + p +
                          "-ca.pem' -CAkey '" + p + "-ca.key' -CAcreateserial -out '" + p +
                          ".pem' -days 2 2>/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
}

cluster_tls_files tls_of(const flow_dir& dir, const std::string& cert, const std::string& ca) {
  cluster_tls_files t;
  t.certificate_file = (dir.path() / (cert + ".pem")).string();
  t.key_file = (dir.path() / (cert + ".key")).string();
  t.ca_file = (dir.path() / (ca + "-ca.pem")).string();
  return t;
}

}  // namespace

TEST_CASE("cluster TLS: only a front with a certificate of the cluster's CA gets through",
          "[cluster][hardening]") {
  flow_dir dir;
  dir.write("flows/ticket.yaml", example("ticket.yaml"));
  make_ca_and_node(dir, "cluster");
  make_ca_and_node(dir, "other");
  const auto p = dir.path().string();
  worker_process w({"--flows", p + "/flows", "--listen", "127.0.0.1:0", "--name", "w0",
                    "--trace-file", p + "/w0.jsonl", "--tls-cert", p + "/cluster.pem", "--tls-key",
                    p + "/cluster.key", "--tls-ca", p + "/cluster-ca.pem"},
                   {cluster_key});
  INFO(w.err());
  REQUIRE(w.port() != 0);
  CHECK_THAT(w.out(), Catch::Contains(", TLS"));
  value_map in{{"item", value{{"text", "t"}, {"score", 0.9}}}};

  SECTION("the cluster's certificate: runs go through") {
    auto o = cluster_front({at(w)});
    o.cluster_tls = tls_of(dir, "cluster", "cluster");
    engine eng(o);
    REQUIRE(eng.wait_for_workers(1, 10s));
    auto loaded = eng.load_file(p + "/flows/ticket.yaml");
    auto r = eng.run(loaded.flow, in).get();
    INFO(r.error);
    CHECK(r.ok);
    CHECK(r.worker == "w0");
    CHECK(r.outputs.at("reply") == "URGENT: t");
    eng.shutdown();
  }
  SECTION("a plain front, or one another CA vouches for: never connected") {
    auto plain = cluster_front({at(w)});
    auto stranger = cluster_front({at(w)});
    stranger.cluster_tls = tls_of(dir, "other", "other");
    for (auto* o : {&plain, &stranger}) {
      engine eng(*o);
      CHECK_FALSE(eng.wait_for_workers(1, 1500ms));
      auto loaded = eng.load_file(p + "/flows/ticket.yaml");
      auto r = eng.run(loaded.flow, in).get();
      CHECK_FALSE(r.ok);
      CHECK(r.no_worker);
      eng.shutdown();
    }
  }
  CHECK(w.stop(SIGTERM) == 0);
}

TEST_CASE("cluster TLS: a missing or unreadable file is named", "[cluster]") {
  engine_options o;
  o.workers = {"127.0.0.1:1"};
  o.cluster_tls.certificate_file = "/nonexistent/node.pem";
  CHECK_THROWS_WITH(engine(o), Catch::Contains("the key file is missing"));
  o.cluster_tls.key_file = "/nonexistent/node.key";
  o.cluster_tls.ca_file = "/nonexistent/ca.pem";
  CHECK_THROWS_WITH(engine(o),
                    Catch::Contains("the certificate file '/nonexistent/node.pem' cannot be read"));
}
