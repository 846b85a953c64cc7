#include "netcfg/netlink/netfilter_socket.h"

#include <linux/netlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace nld::netcfg {

Result<Fd> openNetfilterSocket(std::string_view what) {
  Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) {
    const int err = errno;
    Error e = Error::sys(err, std::string(what) + ": cannot open a netfilter netlink socket");
    if (err == EPROTONOSUPPORT || err == EAFNOSUPPORT) {
      return fail(Error(Errc::kUnsupported, e.message(), err));  // no nf_tables here
    }
    return fail(std::move(e));
  }
  return fd;
}

}  // namespace nld::netcfg
