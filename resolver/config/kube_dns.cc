// The kube-dns ConfigMap as node-cache reads it (node-cache-spec.md §5.3): a directory with one
// file per key, parsed as JSON and validated like kube-dns (config.go Validate) and node-cache
// (ValidateNodeLocalCacheConfig: every nameserver must be usable by `forward`).
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/atomic_file.h"
#include "base/json.h"
#include "resolver/config/config.h"
#include "resolver/config/go_syntax.h"
#include "resolver/config/kube_dns_internal.h"
#include "resolver/config/sha256.h"
#include "resolver/dns/types.h"

namespace nld::resolver::config {

namespace detail {

bool isDns1123Subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253) {
    return false;
  }
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    std::string_view label = s.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (label.empty()) {
      return false;
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    if (!alnum(label.front()) || !alnum(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!alnum(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string_view::npos) {
      return true;
    }
    start = dot + 1;
  }
}

std::string stubDomainProblem(std::string_view domain) {
  if (!isDns1123Subdomain(domain)) {
    return "must be a lower-case DNS-1123 subdomain, without trailing dot";
  }
  size_t start = 0;
  while (start <= domain.size()) {
    size_t dot = std::min(domain.find('.', start), domain.size());
    std::string_view label = domain.substr(start, dot - start);
    if (label.size() > dns::kMaxLabelLength) {
      return "label '" + std::string(label) + "' is " + std::to_string(label.size()) +
             " octets long, DNS allows at most " + std::to_string(dns::kMaxLabelLength);
    }
    start = dot + 1;
  }
  // What normalizeZones() in the Corefile parser accepts, so a block rendered from a valid
  // ConfigMap always parses.
  if (!isValidDomainName(std::string(domain) + ".")) {
    return "not a valid zone name";
  }
  return "";
}

std::string keyContext(std::string_view key, std::string_view dir) {
  std::string out = "kube-dns ConfigMap key '" + std::string(key) + "'";
  if (!dir.empty()) {
    out += " ('" + std::string(dir) + "/" + std::string(key) + "')";
  }
  return out;
}

Result<SocketAddress> parseNameserver(std::string_view text) {
  auto bad = [&] {
    return fail(Errc::kInvalidArgument,
                "'" + std::string(text) + "' is not an IP address or IP:port");
  };
  if (auto hp = splitHostPort(text)) {
    auto ip = IpAddress::parse(stripZone(hp->host));
    auto port = parsePort(hp->port);
    if (!ip || !port) {
      return bad();
    }
    return SocketAddress{*ip, *port};
  }
  auto ip = IpAddress::parse(stripZone(text));
  if (!ip) {
    return bad();
  }
  return SocketAddress{*ip, 53};
}

Result<void> validateKubeDnsConfig(const KubeDnsConfig& c, std::string_view dir) {
  const std::string stub = keyContext("stubDomains", dir);
  for (const auto& [domain, servers] : c.stub_domains) {
    if (std::string why = stubDomainProblem(domain); !why.empty()) {
      return fail(Errc::kInvalidArgument,
                  stub + ": invalid domain name '" + domain + "' (" + why + ")");
    }
    if (servers.empty()) {
      return fail(Errc::kInvalidArgument, stub + ": '" + domain + "' has no nameservers");
    }
    for (const auto& s : servers) {
      if (auto r = parseNameserver(s); !r) {
        return fail(std::move(r.error()).withContext(stub + ": '" + domain + "'"));
      }
    }
  }
  const std::string upstream = keyContext("upstreamNameservers", dir);
  if (c.upstream_nameservers.size() > 3) {
    return fail(Errc::kInvalidArgument, upstream + ": cannot have more than three entries");
  }
  for (const auto& s : c.upstream_nameservers) {
    if (auto r = parseNameserver(s); !r) {
      return fail(std::move(r.error()).withContext(upstream));
    }
  }
  return {};
}

}  // namespace detail

namespace {

bool isValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    if (c < 0x80) {
      extra = 0;
    } else if ((c >> 5) == 0x6) {
      extra = 1;
    } else if ((c >> 4) == 0xE) {
      extra = 2;
    } else if ((c >> 3) == 0x1E) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size()) {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) {
        return false;
      }
    }
    i += extra + 1;
  }
  return true;
}

Result<std::vector<std::string>> stringArray(const JsonValue& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.isNull()) {
    return out;
  }
  if (v.array() == nullptr) {
    return fail(Errc::kParse, what + ": expected a JSON array of strings, got " +
                                  std::string(jsonKindName(v.kind())));
  }
  for (const auto& item : *v.array()) {
    if (item.string() == nullptr) {
      return fail(Errc::kParse, what + ": expected strings in the array, got " +
                                    std::string(jsonKindName(item.kind())));
    }
    out.push_back(*item.string());
  }
  return out;
}

}  // namespace

namespace {

Result<KubeDnsConfig> parseFiles(const std::map<std::string, std::string>& files,
                                 std::string_view dir) {
  using detail::keyContext;
  KubeDnsConfig out;
  if (!files.empty()) {
    detail::Sha256 h;
    for (const auto& [name, content] : files) {
      h.update(name);
      h.update(std::string_view("\0", 1));
      h.update(content);
      h.update(std::string_view("\0", 1));
    }
    out.version = h.hexDigest();
  }
  for (const auto& [name, content] : files) {
    if (!isValidUtf8(content)) {
      return fail(Errc::kParse, keyContext(name, dir) + " is not valid UTF-8");
    }
    if (name == "stubDomains") {
      auto j = parseJson(content);
      if (!j) {
        return fail(std::move(j.error()).withContext(keyContext(name, dir)));
      }
      if (j->isNull()) {
        continue;
      }
      if (j->members() == nullptr) {
        return fail(Errc::kParse, keyContext(name, dir) + ": expected a JSON object, got " +
                                      std::string(jsonKindName(j->kind())));
      }
      for (const auto& [domain, servers] : *j->members()) {
        auto list = stringArray(servers, keyContext(name, dir) + ": '" + domain + "'");
        if (!list) {
          return fail(std::move(list.error()));
        }
        out.stub_domains[domain] = std::move(*list);  // a repeated key: the last wins (Go)
      }
    } else if (name == "upstreamNameservers") {
      auto j = parseJson(content);
      if (!j) {
        return fail(std::move(j.error()).withContext(keyContext(name, dir)));
      }
      auto list = stringArray(*j, keyContext(name, dir));
      if (!list) {
        return fail(std::move(list.error()));
      }
      out.upstream_nameservers = std::move(*list);
    } else if (name == "federations") {
      auto j = parseJson(content);
      if (!j) {
        return fail(std::move(j.error()).withContext(keyContext(name, dir)));
      }
      out.notes.push_back("kube-dns ConfigMap key 'federations' has no effect, ignoring");
    } else {
      out.notes.push_back("unknown kube-dns ConfigMap key '" + name + "', ignoring");
    }
  }
  if (auto r = detail::validateKubeDnsConfig(out, dir); !r) {
    return fail(std::move(r.error()));
  }
  return out;
}

}  // namespace

Result<KubeDnsConfig> parseKubeDnsConfig(const std::map<std::string, std::string>& files) {
  return parseFiles(files, "");
}

Result<KubeDnsConfig> loadKubeDnsConfigDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    int e = errno;
    if (e == ENOENT) {
      return fail(Errc::kNotFound, "kube-dns ConfigMap directory '" + dir + "' does not exist");
    }
    return failSys(e, "open kube-dns ConfigMap directory '" + dir + "'");
  }
  std::vector<std::string> names;
  while (dirent* ent = ::readdir(d)) {
    std::string name = ent->d_name;
    if (!name.empty() && name.front() != '.') {  // also skips kubelet's ..data, ..2024_...
      names.push_back(std::move(name));
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  std::map<std::string, std::string> files;
  for (const auto& name : names) {
    std::string path = dir + "/" + name;
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      int e = errno;
      if (e == ENOENT) {
        continue;  // a dangling key symlink mid-swap: the next sync sees the new set
      }
      return failSys(e, "stat '" + path + "'");
    }
    if (!S_ISREG(st.st_mode)) {
      continue;  // sub-directories are not keys
    }
    auto content = readFile(path);
    if (!content) {
      return fail(std::move(content.error()));
    }
    files.emplace(name, std::move(*content));
  }
  return parseFiles(files, dir);  // errors name the key and its file
}

}  // namespace nld::resolver::config
