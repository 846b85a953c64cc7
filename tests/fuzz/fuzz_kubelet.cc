// libFuzzer target: netcfg/kubelet's parse + edit of the kubelet files (the KubeletConfiguration
// YAML and the KUBELET_EXTRA_ARGS environment file) must never crash or hang on any input, and
// the edit must keep its promises (kubelet.h): every located value is exactly the bytes at its
// span; replacing the values with themselves gives back the input byte for byte (or is refused
// when a value is not safe to write); replacing them with other addresses gives a text in which
// exactly those addresses are found, and replacing those with the originals gives back the
// input. The first input byte picks the file kind.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "netcfg/kubelet.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

std::vector<std::string> valuesOf(const std::vector<nld::netcfg::DnsValueSpan>& spans) {
  std::vector<std::string> out;
  out.reserve(spans.size());
  for (const auto& s : spans) {
    out.push_back(s.value);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nld::netcfg;
  if (size == 0) {
    return 0;
  }
  const KubeletFileKind kind =
      (data[0] & 1) != 0 ? KubeletFileKind::kExtraArgs : KubeletFileKind::kConfigYaml;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto found = findClusterDns(text, kind);
  if (!found) {
    check(!found.error().message().empty());
    // Nothing located, nothing edited.
    check(!replaceClusterDns(text, kind, {}).has_value() ||
          replaceClusterDns(text, kind, {}).value() == text);
    return 0;
  }
  for (const auto& span : *found) {
    check(span.offset <= text.size() && span.length <= text.size() - span.offset);
    check(text.substr(span.offset, span.length) == span.value);
  }
  const std::vector<std::string> before = valuesOf(*found);
  auto same = replaceClusterDns(text, kind, before);
  // A located value that is not safe to write back (a space, quote, comma, bracket or '#' in a
  // plain scalar) makes every edit an error: refused, never a corrupted file.
  bool writable = true;
  for (const auto& v : before) {
    writable = writable && !v.empty() && v.find_first_of(" \t\r\n\"',#[]{}") == std::string::npos;
  }
  if (!writable) {
    check(!same.has_value());
    return 0;
  }
  check(same.has_value() && *same == text);

  // A count mismatch is refused.
  std::vector<std::string> one_more = before;
  one_more.push_back("192.0.2.1");
  check(!replaceClusterDns(text, kind, one_more).has_value());

  // What install does: point every value at a local address of its family, then revert.
  const std::vector<nld::IpAddress> local = {*nld::IpAddress::parse("169.254.20.10"),
                                             *nld::IpAddress::parse("fd00::a")};
  const std::vector<std::string> after = pointClusterDnsAt(before, local);
  check(after.size() == before.size());
  auto edited = replaceClusterDns(text, kind, after);
  check(edited.has_value());
  auto refound = findClusterDns(*edited, kind);
  check(refound.has_value());
  check(valuesOf(*refound) == after);
  auto reverted = replaceClusterDns(*edited, kind, before);
  check(reverted.has_value() && *reverted == text);
  return 0;
}
