// `nodelocaldns render-manifest`: the NodeLocal DNSCache manifest for kubectl, from the built-in
// template (or --template FILE, e.g. upstream's nodelocaldns.yaml), substituted exactly like the
// Kubernetes task page's sed for the kube-proxy mode, and checked before anything is written.
#include <cstdio>
#include <string>
#include <vector>

#include "base/atomic_file.h"
#include "base/ip.h"
#include "cli/commands.h"
#include "templates/templates.h"

namespace nld::cli {
namespace {

struct RenderOptions {
  std::string kube_dns;
  std::string domain = "cluster.local";
  std::vector<std::string> local_ips;
  std::string mode = "iptables";
  std::string image;
  std::string template_file;
  std::string only;
  std::string output;
};

/// Every failure before the write is a usage error (exit 2): nothing was changed.
Error usage(const Error& e) { return Error(Errc::kInvalidArgument, e.message()); }

Result<int> renderManifest(const RenderOptions& o) {
  templates::ManifestParams params;
  auto kube_dns = IpAddress::parseOrError(o.kube_dns);
  if (!kube_dns) return fail(usage(kube_dns.error().withContext("--kube-dns")));
  params.kube_dns = *kube_dns;
  if (!o.local_ips.empty()) {
    params.local_ips.clear();
    for (const auto& text : o.local_ips) {
      auto ip = IpAddress::parseOrError(text);
      if (!ip) return fail(usage(ip.error().withContext("--local-ip")));
      params.local_ips.push_back(*ip);
    }
  }
  auto mode = templates::parseProxyMode(o.mode);
  if (!mode) return fail(usage(mode.error().withContext("--mode")));
  params.mode = *mode;
  params.domain = o.domain;
  params.image = o.image;

  std::string template_text;
  if (!o.template_file.empty()) {
    auto text = readFile(o.template_file);
    if (!text) return fail(usage(text.error().withContext("--template")));
    template_text = std::move(*text);
  }
  auto rendered = templates::renderManifest(
      params, o.template_file.empty() ? templates::manifestTemplate() : template_text);
  if (!rendered) {
    return fail(usage(o.template_file.empty()
                          ? rendered.error()
                          : rendered.error().withContext("template '" + o.template_file + "'")));
  }
  std::string out = std::move(*rendered);
  if (!o.only.empty()) {
    auto object = templates::extractObject(out, o.only);
    if (!object) return fail(usage(object.error().withContext("--only")));
    out = std::move(*object);
  }

  if (!o.output.empty()) {
    if (auto r = writeFileAtomic(o.output, out); !r) return fail(r.error());
    return 0;
  }
  if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
    return fail(Errc::kSystem, "write the manifest to stdout failed");
  }
  return 0;
}

}  // namespace

Command addRenderManifestCommand(CLI::App& app) {
  auto opts = std::make_shared<RenderOptions>();
  CLI::App* cmd = app.add_subcommand(
      "render-manifest",
      "Print the NodeLocal DNSCache manifest (ServiceAccount, kube-dns-upstream Service, "
      "ConfigMap, DaemonSet, metrics Service) for kubectl apply");
  cmd->add_option("--kube-dns", opts->kube_dns,
                  "kube-dns Service ClusterIP (kubectl get svc kube-dns -n kube-system "
                  "-o jsonpath={.spec.clusterIP})")
      ->required();
  cmd->add_option("--domain", opts->domain, "Cluster domain")->capture_default_str();
  cmd->add_option("--local-ip", opts->local_ips,
                  "Node-local listen address (default 169.254.20.10); repeat or comma-separate "
                  "for several of one family")
      ->delimiter(',');
  cmd->add_option("--mode", opts->mode, "kube-proxy mode: iptables, ipvs or nftables")
      ->capture_default_str();
  cmd->add_option("--image", opts->image,
                  "Container image (default " + templates::defaultImage() + ")");
  cmd->add_option("--template", opts->template_file,
                  "Render this template file instead of the built-in one (e.g. upstream "
                  "nodelocaldns.yaml)");
  cmd->add_option("--only", opts->only,
                  "Print one object: a unique name (kube-dns-upstream) or kind/name "
                  "(daemonset/node-local-dns)");
  cmd->add_option("-o,--output", opts->output,
                  "Write to FILE (atomically; untouched on error) instead of stdout");
  return Command{cmd, [opts]() { return renderManifest(*opts); }};
}

}  // namespace nld::cli
