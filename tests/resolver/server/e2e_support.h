// End-to-end support: a real nsd as the kube-dns stand-in (127.0.0.2:5300, zones cluster.local
// and 10.in-addr.arpa) and our Server on 127.0.0.1:53, both inside the test's private network
// namespace; dig as the client.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "resolver/resolver.h"
#include "tests/support/netns.h"

namespace nld::test {

/// Starts nsd (daemonized) in `dir`; kills it in the destructor.
class Nsd {
 public:
  explicit Nsd(const TempDir& dir);
  ~Nsd();
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  void stop();

 private:
  std::string dir_;
  std::string error_;
  bool running_ = false;
};

/// Parses `corefile` and starts a Server with `workers` workers.
std::unique_ptr<resolver::Server> startServer(const std::string& corefile, unsigned workers = 2,
                                              resolver::ServerOptions options = {});

/// dig against 127.0.0.1:53 with the given arguments (+tries=1 +time=8 added).
CommandResult dig(const std::string& args);

/// The status dig printed ("NOERROR", "NXDOMAIN", ...), or "<none>".
std::string status(const CommandResult& r);

/// A query on the wire: RD set, one question `name` (dotted, final dot optional) `qtype` IN;
/// with `edns_do`, an OPT record (UDP size 1232, DO bit).
std::vector<uint8_t> wireQuery(uint16_t id, const std::string& name, uint16_t qtype = 1,
                               bool edns_do = false);

/// The Corefile used by most tests: node-local-dns's shape on loopback.
std::string defaultCorefile(const std::string& extra_cache_lines = "");

}  // namespace nld::test
