// netcfg: node networking for nodelocaldns. The one netcfg header the CLI includes.
//
// What it exposes, by sub-folder (each header documents its contract):
//   link/link.h               the node-local link: LinkSpec/LinkKind, planLink() (pure diff),
//                             observeLink(), ensureLink(), revertLink(), removeLink(), LinkWatcher
//   rules/rules.h             the 12 upstream rules per address, either backend: RuleSpec,
//                             RulesOptions (RulesBackend), ensureRules(), removeRules(),
//                             checkRules(), planRulesText(), rulesErrorType()
//   rules/nftables/nft_text.h our nftables table as text: nftChainName(), nftRuleText()
//   detect/proxy_mode.h       kube-proxy's mode (ProxyMode) and detectProxyMode() for --mode auto
//   detect/rules_backend.h    detectRulesBackend() for --rules-backend auto
//   kubelet/kubelet.h         the kubelet's clusterDNS: read, plan and apply edits
// Not exposed (internal to netcfg): netlink/ (libnl handles, the raw netlink request loop),
// rules/iptables/ (libiptc sessions, xtables lock, x_tables codec), rules/nftables/nft_rules.h
// (libnftables), the rule plan.
//
// Namespace nld::netcfg. Errors are Result<> values; nothing logs above debug. No C library
// header reaches the includer.
#pragma once

#include "netcfg/detect/proxy_mode.h"
#include "netcfg/detect/rules_backend.h"
#include "netcfg/kubelet/kubelet.h"
#include "netcfg/link/link.h"
#include "netcfg/rules/nftables/nft_text.h"
#include "netcfg/rules/rules.h"
