// The netfilter netlink socket every nftables path opens first: libnftables' probe, the rule
// count dump and kube-proxy mode detection (internal to netcfg).
#pragma once

#include <string_view>

#include "base/fd.h"
#include "base/result.h"

namespace nld::netcfg {

/// A NETLINK_NETFILTER socket; kUnsupported when the kernel (or sandbox) has no nf_tables,
/// otherwise the errno, both with "`what`: cannot open a netfilter netlink socket".
Result<Fd> openNetfilterSocket(std::string_view what);

}  // namespace nld::netcfg
