#include "cluster/tls.hpp"

#include <unistd.h>

#include <caf/io/middleman.hpp>
#include <caf/openssl/all.hpp>

namespace weft::cluster {

bool check_tls(const tls_files& t, std::string& why) {
  struct field {
    const char* name;
    const std::string* path;
  };
  const field fields[] = {{"certificate", &t.certificate}, {"key", &t.key}, {"ca", &t.ca}};
  for (auto f : fields)
    if (f.path->empty()) {
      why = std::string("cluster TLS: the ") + f.name +
            " file is missing: TLS needs this node's certificate, its key and the cluster's CA "
            "certificate, all three";
      return false;
    }
  for (auto f : fields) {
    if (::access(f.path->c_str(), R_OK) != 0) {
      why = std::string("cluster TLS: the ") + f.name + " file '" + *f.path +
            "' cannot be read: check the path and its permissions";
      return false;
    }
  }
  return true;
}

void use_tls(caf::actor_system_config& cfg, const tls_files& t) {
  cfg.load<caf::io::middleman>();
  cfg.load<caf::openssl::manager>();
  cfg.openssl_certificate = t.certificate;
  cfg.openssl_key = t.key;
  cfg.openssl_cafile = t.ca;
  cfg.openssl_passphrase = t.passphrase;
}

caf::io::middleman_actor connector(caf::actor_system& sys) {
  if (sys.has_openssl_manager()) return sys.openssl_manager().actor_handle();
  return sys.middleman().actor_handle();
}

caf::expected<std::uint16_t> publish(caf::actor_system& sys, const caf::actor& whom,
                                     std::uint16_t port, const std::string& host) {
  if (sys.has_openssl_manager()) return caf::openssl::publish(whom, port, host.c_str(), true);
  return sys.middleman().publish(whom, port, host.c_str(), true);
}

void unpublish(caf::actor_system& sys, const caf::actor& whom, std::uint16_t port) {
  if (sys.has_openssl_manager()) {
    // Debian's caf/openssl/unpublish.hpp does not build against 0.17.6's
    // atoms; the message it would send is this one.
    caf::anon_send(sys.openssl_manager().actor_handle(), caf::unpublish_atom::value, whom.address(),
                   port);
    return;
  }
  sys.middleman().unpublish(whom, port);
}

}  // namespace weft::cluster
