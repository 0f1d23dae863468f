// TLS between fronts and workers, through CAF's OpenSSL module
// (libcaf-openssl0.17): the same middleman protocol inside a TLS session.
//
// It is mutual TLS or nothing. Every node, front or worker, has a
// certificate and key, and the cluster's CA certificate; a peer must
// present a certificate that CA signed, or the connection is refused
// before any weft message passes. (CAF's module would otherwise fall back
// to anonymous Diffie-Hellman: encrypted, but anyone could be on the other
// end.) The cluster key is still checked at hello, on top.
//
// CAF checks the chain only, not a host name: a certificate names a member
// of the cluster, not a host, so one CA per cluster is the trust boundary.
#pragma once

#include <cstdint>
#include <string>

#include <caf/actor.hpp>
#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/io/middleman_actor.hpp>

namespace weft::cluster {

struct tls_files {
  std::string certificate;  // this node's certificate, PEM
  std::string key;          // its private key, PEM
  std::string ca;           // the cluster's CA certificate, PEM
  std::string passphrase;   // of the key, when it is encrypted

  bool enabled() const { return !certificate.empty() || !key.empty() || !ca.empty(); }
};

/// Whether the three files are all given and readable. `why` names the
/// file at fault and what to do.
bool check_tls(const tls_files& t, std::string& why);

/// Loads the middleman and the OpenSSL module into `cfg` with these files.
/// Call before the actor system is made.
void use_tls(caf::actor_system_config& cfg, const tls_files& t);

/// The middleman actor to connect through: the TLS one when the system
/// has the OpenSSL module, else the plain one.
caf::io::middleman_actor connector(caf::actor_system& sys);

/// Publishes `whom` on host:port, through TLS when the system has it.
caf::expected<std::uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                                     std::uint16_t port, const std::string& host);

/// Takes back what publish() published on `port`.
void unpublish(caf::actor_system& sys, const caf::actor& whom, std::uint16_t port);

}  // namespace weft::cluster
