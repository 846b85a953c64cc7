// Kubelet cluster DNS: find and rewrite the `clusterDNS` values of a KubeletConfiguration file
// and the `--cluster-dns` values of a KUBELET_EXTRA_ARGS environment file (/etc/default/kubelet,
// /etc/sysconfig/kubelet).
//
// Edits are minimal TEXT edits: the YAML is parsed with yaml-cpp only to locate each value (its
// node mark), the value's characters are replaced in place and nothing is ever re-emitted, so
// comments, key order, quoting, indentation and CRLF line ends survive byte for byte. A value that
// cannot be located exactly (multi-line scalar, alias, escape sequences) is an error and the text
// is left alone. Replacing values with the ones they replaced gives back the original bytes.
//
// Pure functions except readKubeletFile/applyKubeletEdit (file I/O). No logging. Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip.h"
#include "base/result.h"

namespace nld::netcfg {

inline constexpr std::string_view kDefaultKubeletConfig = "/var/lib/kubelet/config.yaml";
/// KUBELET_EXTRA_ARGS files of the deb (kubeadm) and rpm packages.
inline constexpr std::string_view kDefaultKubeletExtraArgsFiles[] = {"/etc/default/kubelet",
                                                                     "/etc/sysconfig/kubelet"};

enum class KubeletFileKind : uint8_t {
  kConfigYaml,  // KubeletConfiguration (clusterDNS: [...])
  kExtraArgs,   // shell-style environment file with --cluster-dns=IP[,IP]
};

std::string_view toString(KubeletFileKind kind) noexcept;

/// One cluster DNS value located in a text: text.substr(offset, length) == value (inside the
/// quotes when the value is quoted).
struct DnsValueSpan {
  std::string value;
  size_t offset = 0;
  size_t length = 0;
};

/// The clusterDNS values of a KubeletConfiguration, in file order. No `clusterDNS` key, a null or
/// an empty list give an empty vector.
/// @return kParse with a one-line reason ("line 3: ...") when the YAML is malformed, the root is
///   not a mapping, clusterDNS is not a list of scalars, or a value cannot be located exactly.
Result<std::vector<DnsValueSpan>> findClusterDnsYaml(std::string_view text);

/// The values of every `--cluster-dns=A[,B]` / `--cluster-dns A[,B]` outside comments, in order.
std::vector<DnsValueSpan> findClusterDnsArgs(std::string_view text);

Result<std::vector<DnsValueSpan>> findClusterDns(std::string_view text, KubeletFileKind kind);

/// Replaces the located values one for one (same count, else kInvalidArgument).
Result<std::string> replaceClusterDns(std::string_view text, KubeletFileKind kind,
                                      const std::vector<std::string>& values);

/// What install points kubelet at: each current value is replaced by the first local IP of the
/// same family; a value with no local IP of its family is kept (pods keep using kube-dns for that
/// family rather than losing it).
std::vector<std::string> pointClusterDnsAt(const std::vector<std::string>& current,
                                           const std::vector<IpAddress>& local_ips);

/// A planned change of one kubelet file.
struct KubeletEdit {
  std::string path;
  KubeletFileKind kind = KubeletFileKind::kConfigYaml;
  std::string old_text;
  std::string new_text;
  std::vector<std::string> before;  // values as found
  std::vector<std::string> after;   // values after the edit
  bool changed() const { return old_text != new_text; }
};

/// Reads `path` and plans replacing its cluster DNS values with `values` (same count).
Result<KubeletEdit> planKubeletEdit(const std::string& path, KubeletFileKind kind,
                                    const std::vector<std::string>& values);

/// Lines that differ between old_text and new_text, as "-"/"+" pairs with line numbers; empty
/// when nothing changes. Line structure never changes in our edits.
std::string kubeletDiffText(const KubeletEdit& edit);

/// Writes new_text atomically if the file still holds old_text (else kBusy: someone edited it
/// meanwhile, nothing written). Unchanged edits write nothing. backup_path: see writeFileAtomic.
Result<void> applyKubeletEdit(const KubeletEdit& edit, const std::string& backup_path = "");

/// Reads a kubelet file and returns its cluster DNS values.
Result<std::vector<std::string>> readClusterDns(const std::string& path, KubeletFileKind kind);

}  // namespace nld::netcfg
