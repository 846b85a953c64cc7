// `nodelocaldns revert-kubelet`: put kubelet's clusterDNS back to kube-dns. With install's record
// (state file) each value install changed goes back to its original text, so install followed by
// revert-kubelet gives back the original file byte for byte; without one (or with --kube-dns) every
// value that is a local address becomes --kube-dns. Only the values change (see netcfg/kubelet/).
#include <unistd.h>

#include <cstdio>

#include "base/strings.h"
#include "cli/commands.h"
#include "cli/node/flags.h"
#include "cli/node/kubelet.h"
#include "cli/node/state.h"
#include "netcfg/netcfg.h"

namespace nld::cli {
namespace {

struct RevertOptions {
  NodePaths paths;
  std::string kube_dns;
  std::vector<std::string> local_ips;
  std::string kubelet_config = std::string(netcfg::kDefaultKubeletConfig);
  std::vector<std::string> kubelet_extra_args;
  bool restart = false;
  bool dry_run = false;
};

Result<int> runRevert(const RevertOptions& o) {
  auto state = loadNodeState(o.paths.state_file);
  if (!state) {
    return fail(std::move(state.error()));
  }
  KubeletRevertReport report;
  if (o.kube_dns.empty()) {
    if (!*state || (*state)->kubelet.empty()) {
      return fail(Errc::kInvalidArgument, "no kubelet change recorded in '" + o.paths.state_file +
                                              "'; pass --kube-dns IP to set clusterDNS back");
    }
    report = revertKubeletChanges((*state)->kubelet, o.dry_run);
  } else {
    auto kube_dns = IpAddress::parseOrError(o.kube_dns);
    if (!kube_dns) {
      return fail(Errc::kInvalidArgument, "--kube-dns: " + kube_dns.error().message());
    }
    std::vector<IpAddress> local;
    std::vector<std::string> given = splitCommaList(o.local_ips);
    if (given.empty() && *state) {
      for (const IpAddress& ip : (*state)->local_ips) {
        given.push_back(ip.toString());
      }
    }
    if (given.empty()) {
      given.push_back(kDefaultLocalIp);
    }
    for (const auto& s : given) {
      auto ip = IpAddress::parseOrError(s);
      if (!ip) {
        return fail(Errc::kInvalidArgument, "--local-ip: " + ip.error().message());
      }
      local.push_back(*ip);
    }
    std::vector<std::pair<std::string, std::string>> files = {{o.kubelet_config, "config"}};
    if (*state) {
      for (const auto& k : (*state)->kubelet) {
        if (k.path != o.kubelet_config) {
          files.push_back({k.path, k.kind});
        }
      }
    }
    if (o.kubelet_extra_args.empty()) {
      for (std::string_view f : netcfg::kDefaultKubeletExtraArgsFiles) {
        files.push_back({std::string(f), "args"});
      }
    } else {
      for (const auto& f : o.kubelet_extra_args) {
        files.push_back({f, "args"});
      }
    }
    report = revertKubeletTo(files, local, *kube_dns, o.dry_run);
  }
  if (o.dry_run) {
    std::fputs(report.diff.empty() ? "no change\n" : report.diff.c_str(), stdout);
  }
  for (const auto& d : report.done) {
    std::printf("%s\n", d.c_str());
  }
  if (!report.problems.empty()) {
    return fail(Errc::kSystem, join(report.problems, "; "));
  }
  if (o.dry_run) {
    return 0;
  }
  if (*state && o.kube_dns.empty()) {
    NodeState s = **state;
    s.kubelet = report.remaining;
    for (const KubeletChange& k : (*state)->kubelet) {
      bool still = false;
      for (const KubeletChange& r : report.remaining) {
        still = still || r.path == k.path;
      }
      if (!still && !k.backup.empty()) {
        ::unlink(k.backup.c_str());  // reverted: the copy from before install is not needed
      }
    }
    if (auto r = saveNodeState(o.paths.state_file, s); !r) {
      return fail(std::move(r.error()));
    }
  }
  if (!report.diff.empty()) {
    if (o.restart) {
      if (auto r = restartKubelet(); !r) {
        return fail(std::move(r.error()));
      }
      std::printf("restarted kubelet\n");
    } else {
      std::printf(
          "restart kubelet to apply it (systemctl restart kubelet, or --restart-kubelet)\n");
    }
  }
  return 0;
}

}  // namespace

Command addRevertKubeletCommand(CLI::App& app) {
  auto opts = std::make_shared<RevertOptions>();
  CLI::App* cmd = app.add_subcommand(
      "revert-kubelet", "Put kubelet's clusterDNS back to kube-dns, changing nothing else");
  cmd->add_option("--kube-dns", opts->kube_dns,
                  "Set local-address values to this IP instead of the recorded originals");
  cmd->add_option("--local-ip", opts->local_ips,
                  "With --kube-dns: the local address(es) to replace (default: as installed, "
                  "else 169.254.20.10)");
  cmd->add_option("--kubelet-config", opts->kubelet_config, "KubeletConfiguration file")
      ->capture_default_str();
  cmd->add_option("--kubelet-extra-args", opts->kubelet_extra_args,
                  "KUBELET_EXTRA_ARGS file(s) (default: /etc/default/kubelet, "
                  "/etc/sysconfig/kubelet when present)");
  cmd->add_flag("--restart-kubelet", opts->restart, "Run 'systemctl restart kubelet' afterwards");
  cmd->add_flag("--dry-run", opts->dry_run, "Print the diff and change nothing");
  addNodePathFlags(cmd, opts->paths);
  return {cmd, [opts]() { return runRevert(*opts); }};
}

}  // namespace nld::cli
