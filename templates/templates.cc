#include "templates/templates.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <optional>
#include <set>

#include "base/placeholders.h"
#include "base/strings.h"
#include "base/version.h"

// Generated at build time by cmake/Embed.cmake from the composed manifest and Corefile.in.
namespace nld::templates::embedded {
std::string_view nodelocaldns_yaml();
std::string_view Corefile_in();
}  // namespace nld::templates::embedded

namespace nld::templates {
namespace {

using placeholder::kClusterDns;
using placeholder::kDnsDomain;
using placeholder::kDnsServer;
using placeholder::kLocalDns;
using placeholder::kUpstreamServers;
constexpr std::string_view kPillar = placeholder::kPrefix;

Error invalid(std::string message) { return Error(Errc::kInvalidArgument, std::move(message)); }

/// The same error with control characters escaped, so it prints as one line (yaml-cpp messages
/// and names read from a template can hold anything).
template <typename T>
Result<T> oneLine(Result<T> r) {
  if (r) return r;
  return fail(Error(r.error().code(), escapeControl(r.error().message())));
}

/// The line around text[pos], without leading blanks.
std::string_view lineAt(std::string_view text, size_t pos) {
  size_t begin = text.rfind('\n', pos);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) end = text.size();
  std::string_view line = text.substr(begin, end - begin);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  return line;
}

/// sed's s/placeholder/ip/g, plus the two additions documented in templates.h: brackets for an
/// IPv6 address before ":port", and the list contexts when there are several addresses.
void replaceIp(std::string& text, std::string_view placeholder, const std::vector<IpAddress>& ips) {
  size_t pos = 0;
  while ((pos = text.find(placeholder, pos)) != std::string::npos) {
    size_t after = pos + placeholder.size();
    char prev = pos > 0 ? text[pos - 1] : '\0';
    char next = after < text.size() ? text[after] : '\0';
    bool port_follows = next == ':' && after + 1 < text.size() &&
                        std::isdigit(static_cast<unsigned char>(text[after + 1])) != 0;
    std::string value;
    if (ips.size() > 1 && (next == ',' || prev == ',')) {
      value = join(ips, ",");
    } else if (ips.size() > 1 && lineAt(text, pos).starts_with("bind ")) {
      value = join(ips, " ");
    } else {
      value = ips.front().toString();
      if (port_follows && ips.front().isV6() && prev != '[') value = "[" + value + "]";
    }
    text.replace(pos, placeholder.size(), value);
    pos += value.size();
  }
}

/// The task page's sed for the mode (see templates.h).
std::string substitute(std::string_view template_text, const std::vector<IpAddress>& local_ips,
                       std::string_view domain, const IpAddress& kube_dns, ProxyMode mode) {
  std::string text(template_text);
  const std::vector<IpAddress> kube{kube_dns};
  replaceIp(text, kLocalDns, local_ips);
  replaceAll(text, kDnsDomain, domain);
  if (mode == ProxyMode::kIpvs) {
    replaceAll(text, std::string(",").append(kDnsServer), "");
    replaceIp(text, kClusterDns, kube);
  } else {
    replaceIp(text, kDnsServer, kube);
  }
  return text;
}

Result<void> checkAddresses(const std::vector<IpAddress>& local_ips, const IpAddress& kube_dns) {
  if (kube_dns.isUnspecified()) {
    return fail(
        invalid("the kube-dns Service IP is required (kubectl get svc kube-dns -n "
                "kube-system -o jsonpath={.spec.clusterIP})"));
  }
  if (local_ips.empty()) return fail(invalid("at least one local IP is required"));
  for (const auto& ip : local_ips) {
    if (ip.isUnspecified() || ip.isLoopback()) {
      return fail(invalid("local IP '" + ip.toString() +
                          "' is not usable (unspecified or "
                          "loopback)"));
    }
    if (ip == kube_dns) {
      return fail(invalid("local IP '" + ip.toString() + "' is the kube-dns IP"));
    }
    if (std::count(local_ips.begin(), local_ips.end(), ip) > 1) {
      return fail(invalid("local IP '" + ip.toString() + "' given twice"));
    }
  }
  // Local IPs may mix families (one process serves both), but pods of the kube-dns Service's
  // family need a local IP of that family: an IPv6 cluster with only 169.254.20.10 is a mistake.
  if (std::none_of(local_ips.begin(), local_ips.end(),
                   [&](const IpAddress& ip) { return ip.family() == kube_dns.family(); })) {
    return fail(invalid(
        "kube-dns IP '" + kube_dns.toString() + "' is " +
        std::string(familyName(kube_dns.family())) + " but no local IP is (add one, " +
        (kube_dns.isV6() ? "e.g. --local-ip fd00::10" : "e.g. --local-ip 169.254.20.10") + ")"));
  }
  return {};
}

Result<std::string> checkImage(std::string_view image) {
  if (image.empty()) return std::string();
  for (char c : image) {
    auto u = static_cast<unsigned char>(c);
    if (std::isspace(u) != 0 || std::iscntrl(u) != 0 || c == '"' || c == '\'' || c == '#' ||
        c == '{' || c == '}' || c == '[' || c == ']' || c == ',') {
      return fail(invalid("invalid image reference " + quoted(image)));
    }
  }
  return std::string(image);
}

/// Replaces the value of the first `image:` key (the DaemonSet's container in both our and the
/// upstream template).
Result<void> replaceImage(std::string& text, std::string_view image) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    size_t indent = line.find_first_not_of(" \t-");
    if (indent != std::string_view::npos && line.substr(indent).starts_with("image:")) {
      size_t value = pos + indent + 6;
      std::string replacement = " " + std::string(image);
      // Keep a trailing comment, if any.
      size_t comment = std::string_view(text.data() + value, end - value).find(" #");
      size_t value_end = comment == std::string_view::npos ? end : value + comment;
      text.replace(value, value_end - value, replacement);
      return {};
    }
    pos = end + 1;
  }
  return fail(Errc::kParse, "the template has no 'image:' line to replace");
}

size_t lineNumber(std::string_view text, size_t pos) {
  return static_cast<size_t>(std::count(text.begin(), text.begin() + pos, '\n')) + 1;
}

/// Every __PILLAR__… token left in text.
Result<void> auditPlaceholders(std::string_view text, const std::set<std::string_view>& allowed,
                               std::string_view what, std::string_view why) {
  size_t pos = 0;
  while ((pos = text.find(kPillar, pos)) != std::string_view::npos) {
    size_t end = pos + kPillar.size();
    while (end < text.size() &&
           (std::isupper(static_cast<unsigned char>(text[end])) != 0 ||
            std::isdigit(static_cast<unsigned char>(text[end])) != 0 || text[end] == '_')) {
      ++end;
    }
    std::string_view token = text.substr(pos, end - pos);
    if (!allowed.contains(token)) {
      return fail(Errc::kParse, "placeholder '" + std::string(token) + "' left in " +
                                    std::string(what) + " at line " +
                                    std::to_string(lineNumber(text, pos)) + std::string(why));
    }
    pos = end;
  }
  return {};
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string scalarOr(const YAML::Node& node, std::string fallback = "") {
  if (node && node.IsScalar()) return node.Scalar();
  return fallback;
}

/// Whether a probe host is usable: a bare IP (no brackets) or a host name.
bool validProbeHost(const std::string& host) {
  if (IpAddress::parse(host)) return true;
  if (host.find(':') != std::string::npos) return false;  // a mangled IPv6 address
  return validateDomain(host).has_value();
}

Result<void> validateParsed(const std::vector<YAML::Node>& all) {
  struct Expected {
    std::string_view kind;
    std::string_view name;
  };
  constexpr std::array<Expected, 5> kObjects = {{{"ServiceAccount", "node-local-dns"},
                                                 {"Service", "kube-dns-upstream"},
                                                 {"ConfigMap", "node-local-dns"},
                                                 {"DaemonSet", "node-local-dns"},
                                                 {"Service", "node-local-dns"}}};
  std::vector<YAML::Node> docs;
  for (const auto& doc : all) {
    if (doc.IsNull()) continue;
    if (!doc.IsMap()) return fail(Errc::kParse, "a manifest document is not a mapping");
    docs.push_back(doc);
  }
  std::array<bool, 5> seen{};
  for (const auto& doc : docs) {
    std::string kind = scalarOr(doc["kind"]);
    std::string name = scalarOr(doc["metadata"] ? doc["metadata"]["name"] : YAML::Node());
    bool known = false;
    for (size_t i = 0; i < kObjects.size(); ++i) {
      if (kind == kObjects[i].kind && name == kObjects[i].name) {
        if (seen[i]) {
          return fail(Errc::kParse, "the manifest has " + kind + " '" + name + "' twice");
        }
        seen[i] = known = true;
      }
    }
    if (!known) {
      return fail(Errc::kParse, "unexpected object " + (kind.empty() ? "(no kind)" : kind) + " '" +
                                    name + "' in the manifest");
    }
    if (kind == "ConfigMap") {
      if (scalarOr(doc["data"] ? doc["data"]["Corefile"] : YAML::Node()).empty()) {
        return fail(Errc::kParse, "ConfigMap 'node-local-dns' has no data.Corefile");
      }
    }
    if (kind == "DaemonSet") {
      YAML::Node pod =
          doc["spec"] && doc["spec"]["template"] ? doc["spec"]["template"]["spec"] : YAML::Node();
      YAML::Node containers = pod ? pod["containers"] : YAML::Node();
      if (!containers || !containers.IsSequence() || containers.size() == 0) {
        return fail(Errc::kParse, "DaemonSet 'node-local-dns' has no containers");
      }
      for (const auto& c : containers) {
        for (const char* probe : {"livenessProbe", "readinessProbe"}) {
          YAML::Node get = c[probe] ? c[probe]["httpGet"] : YAML::Node();
          if (!get || !get["host"]) continue;
          if (!get["host"].IsScalar() || !validProbeHost(get["host"].Scalar())) {
            return fail(Errc::kParse,
                        std::string("DaemonSet 'node-local-dns': ") + probe +
                            " host is not a bare IP address or host name (IPv6 goes without "
                            "brackets there)");
          }
        }
      }
    }
  }
  for (size_t i = 0; i < kObjects.size(); ++i) {
    if (!seen[i]) {
      return fail(Errc::kParse, "the manifest has no " + std::string(kObjects[i].kind) + " '" +
                                    std::string(kObjects[i].name) + "'");
    }
  }
  return {};
}

/// Documents of a multi-document YAML text, split at "---" lines, with their text.
std::vector<std::string> splitDocuments(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    size_t next = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(pos, next - pos);
    std::string_view bare = line.substr(0, line.find_last_not_of(" \t\r\n") + 1);
    if (bare == "---" || bare.starts_with("--- ")) {
      out.push_back(std::move(current));
      current.clear();
    } else {
      current.append(line);
    }
    pos = next;
  }
  out.push_back(std::move(current));
  return out;
}

bool validLabel(std::string_view label) {
  if (label.empty() || label.size() > 63) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

Result<void> validateManifestText(std::string_view yaml, ProxyMode mode);
Result<std::string> extractObjectText(std::string_view manifest, std::string_view selector);

}  // namespace

std::string_view toString(ProxyMode mode) {
  switch (mode) {
    case ProxyMode::kIptables:
      return "iptables";
    case ProxyMode::kIpvs:
      return "ipvs";
    case ProxyMode::kNftables:
      return "nftables";
  }
  return "iptables";
}

Result<ProxyMode> parseProxyMode(std::string_view text) {
  for (ProxyMode m : {ProxyMode::kIptables, ProxyMode::kIpvs, ProxyMode::kNftables}) {
    if (text == toString(m)) {
      return m;
    }
  }
  return fail(Errc::kInvalidArgument,
              "invalid kube-proxy mode " + quoted(text) + ": expected iptables, ipvs or nftables");
}

IpAddress defaultLocalIp() {
  static const IpAddress kIp = *IpAddress::parse("169.254.20.10");
  return kIp;
}

std::string defaultImage() {
  return std::string("ghcr.io/nodelocaldns/nodelocaldns:") + NLD_VERSION;
}

std::string_view manifestTemplate() { return embedded::nodelocaldns_yaml(); }
std::string_view corefileTemplate() { return embedded::Corefile_in(); }

Result<std::string> validateDomain(std::string_view domain) {
  std::string d = lower(domain);
  if (d.ends_with('.')) d.pop_back();
  auto bad = [&](std::string_view why) {
    return fail(invalid("invalid domain " + quoted(domain) + ": " + std::string(why)));
  };
  if (d.empty()) return bad("empty");
  if (d.size() > 253) return bad("longer than 253 characters");
  size_t pos = 0;
  while (true) {
    size_t dot = d.find('.', pos);
    std::string_view label =
        std::string_view(d).substr(pos, dot == std::string::npos ? d.npos : dot - pos);
    if (!validLabel(label)) {
      return bad("label " + quoted(label) +
                 " is not 1-63 of a-z, 0-9, '-' (not starting or ending with '-')");
    }
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  return d;
}

Result<std::string> renderManifest(const ManifestParams& params, std::string_view template_text) {
  if (auto r = checkAddresses(params.local_ips, params.kube_dns); !r) return fail(r.error());
  auto domain = validateDomain(params.domain);
  if (!domain) return fail(domain.error());
  auto image = checkImage(params.image);
  if (!image) return fail(image.error());
  if (template_text.find(kPillar) == std::string_view::npos) {
    return fail(Errc::kParse, "the template has no __PILLAR__ placeholders");
  }
  std::string text =
      substitute(template_text, params.local_ips, *domain, params.kube_dns, params.mode);
  if (!image->empty()) {
    if (auto r = replaceImage(text, *image); !r) return fail(r.error());
  }
  if (auto r = validateManifest(text, params.mode); !r) {
    return fail(std::move(r.error()).withContext("rendered manifest"));
  }
  return text;
}

Result<void> validateManifest(std::string_view yaml, ProxyMode mode) {
  return oneLine(validateManifestText(yaml, mode));
}

Result<std::string> extractObject(std::string_view manifest, std::string_view selector) {
  return oneLine(extractObjectText(manifest, selector));
}

namespace {

Result<void> validateManifestText(std::string_view yaml, ProxyMode mode) {
  // One YAML::Load per "---" document rather than YAML::LoadAll: on some malformed input
  // yaml-cpp 0.7's LoadAll never stops producing documents and eats all memory.
  std::vector<YAML::Node> docs;
  size_t first_line = 1;
  for (const auto& chunk : splitDocuments(yaml)) {
    try {
      docs.push_back(YAML::Load(chunk));
    } catch (const YAML::Exception& e) {
      return fail(Errc::kParse, "not valid YAML at line " +
                                    std::to_string(first_line + e.mark.line) + ": " + e.msg);
    } catch (const std::exception& e) {
      return fail(Errc::kParse, std::string("not valid YAML: ") + e.what());
    }
    first_line += static_cast<size_t>(std::count(chunk.begin(), chunk.end(), '\n')) + 1;
  }
  try {
    if (auto r = validateParsed(docs); !r) return r;
  } catch (const YAML::Exception& e) {
    return fail(Errc::kParse, "unexpected manifest structure: " + e.msg);
  }
  const bool ipvs = mode == ProxyMode::kIpvs;
  std::set<std::string_view> allowed{kUpstreamServers};
  allowed.insert(ipvs ? kDnsServer : kClusterDns);
  std::string why = ipvs ? " (in ipvs mode only __PILLAR__UPSTREAM__SERVERS__ and "
                           "__PILLAR__DNS__SERVER__ are filled at run time)"
                         : " (in " + std::string(toString(mode)) +
                               " mode only __PILLAR__CLUSTER__DNS__ and "
                               "__PILLAR__UPSTREAM__SERVERS__ are filled at run time)";
  return auditPlaceholders(yaml, allowed, "the manifest", why);
}

Result<std::string> extractObjectText(std::string_view manifest, std::string_view selector) {
  std::string want_kind;
  std::string want_name(selector);
  if (size_t slash = selector.find('/'); slash != std::string_view::npos) {
    want_kind = lower(selector.substr(0, slash));
    want_name = std::string(selector.substr(slash + 1));
  }
  std::vector<std::string> found;
  std::vector<std::string> names;
  for (auto& doc : splitDocuments(manifest)) {
    YAML::Node node;
    try {
      node = YAML::Load(doc);
    } catch (const YAML::Exception& e) {
      return fail(Errc::kParse, "not valid YAML: " + e.msg);
    }
    if (!node.IsMap()) continue;
    std::string kind = scalarOr(node["kind"]);
    std::string name = scalarOr(node["metadata"] ? node["metadata"]["name"] : YAML::Node());
    names.push_back(lower(kind) + "/" + name);
    if (name == want_name && (want_kind.empty() || lower(kind) == want_kind)) {
      found.push_back(std::move(doc));
    }
  }
  const std::string all = join(names, ", ");
  if (found.empty()) {
    return fail(
        invalid("no object " + quoted(selector) + " in the manifest (objects: " + all + ")"));
  }
  if (found.size() > 1) {
    return fail(invalid(quoted(selector) + " names " + std::to_string(found.size()) +
                        " objects; use kind/name (objects: " + all + ")"));
  }
  std::string out = std::move(found.front());
  if (!out.ends_with('\n')) out += '\n';
  return out;
}

}  // namespace

Result<std::string> renderCorefile(const CorefileParams& params) {
  if (auto r = checkAddresses(params.local_ips, params.kube_dns); !r) return fail(r.error());
  auto domain = validateDomain(params.domain);
  if (!domain) return fail(domain.error());
  const auto& up = params.upstream_servers;
  if (up.empty() || up.find_first_of("{}\n#") != std::string::npos) {
    return fail(invalid("invalid upstream servers " + quoted(up)));
  }
  std::string text =
      substitute(corefileTemplate(), params.local_ips, *domain, params.kube_dns, params.mode);
  if (params.mode != ProxyMode::kIpvs) {
    if (params.cluster_dns.isUnspecified()) {
      return fail(invalid(
          "the cluster DNS IP (the ClusterIP of Service kube-system/kube-dns-upstream) is required "
          "in " +
          std::string(toString(params.mode)) +
          " mode; create that Service with 'nodelocaldns render-manifest --kube-dns IP --only "
          "kube-dns-upstream | kubectl apply -f -'"));
    }
    if (params.cluster_dns == params.kube_dns ||
        std::find(params.local_ips.begin(), params.local_ips.end(), params.cluster_dns) !=
            params.local_ips.end()) {
      return fail(invalid("cluster DNS IP '" + params.cluster_dns.toString() +
                          "' is an address this node intercepts; it would loop (use the "
                          "kube-dns-upstream Service IP)"));
    }
    replaceIp(text, kClusterDns, {params.cluster_dns});
  }
  replaceAll(text, kUpstreamServers, up);
  replaceAll(text, kDnsServer, "");
  // Trim trailing blanks (ipvs leaves "bind 169.254.20.10 ").
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    bool newline = end != std::string::npos;
    if (!newline) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    out.append(line.substr(0, line.find_last_not_of(" \t") + 1));
    if (newline) out += '\n';
    pos = end + 1;
  }
  if (auto r = auditPlaceholders(out, {}, "the Corefile", ""); !r) {
    return fail(Error(Errc::kInternal, r.error().message()));
  }
  return out;
}

}  // namespace nld::templates
