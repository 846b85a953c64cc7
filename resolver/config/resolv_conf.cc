// resolv.conf parsing as CoreDNS's forward reads it (miekg/dns ClientConfigFromReader): only
// `nameserver ADDR` lines matter; the port is always 53; an IPv6 zone id is stripped. IPv6
// link-local servers are skipped: SocketAddress carries no scope id, so they could not be reached.
#include <sstream>

#include "resolver/config/config.h"
#include "resolver/config/go_syntax.h"

namespace nld::resolver::config {

ResolvConf parseResolvConf(std::string_view text) {
  ResolvConf out;
  std::istringstream in{std::string(text)};
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key) || key != "nameserver") {
      continue;  // comments (# ;), search, domain, options, blank lines
    }
    if (!(words >> value) || value.front() == '#' || value.front() == ';') {
      out.notes.push_back("line " + std::to_string(lineno) +
                          ": nameserver without address, ignoring");
      continue;
    }
    std::string_view host = detail::stripZone(value);
    auto ip = IpAddress::parse(host);
    if (!ip) {
      out.notes.push_back("line " + std::to_string(lineno) + ": '" + value +
                          "' is not an IP address, ignoring");
      continue;
    }
    if (detail::isV6LinkLocal(*ip)) {
      out.notes.push_back("line " + std::to_string(lineno) + ": '" + value +
                          "' is IPv6 link-local (needs an interface scope, not supported), "
                          "ignoring");
      continue;
    }
    out.nameservers.push_back(SocketAddress{*ip, 53});
  }
  return out;
}

}  // namespace nld::resolver::config
