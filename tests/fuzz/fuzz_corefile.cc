// libFuzzer target: the Corefile parser must never crash, hang or leak on any input, and must
// either accept it or return an error naming "fuzz.Corefile:". resolv.conf reads are served from
// memory (a fixed file with a systemd stub entry), so the input alone decides the path taken.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "resolver/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nld::resolver::config;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ParseOptions options;
  options.read_file = [](const std::string& path) -> nld::Result<std::string> {
    if (path == "/etc/resolv.conf") {
      return std::string("nameserver 127.0.0.53\nnameserver 192.0.2.1\n");
    }
    if (path == kSystemdResolvConf) {
      return std::string("nameserver 192.0.2.2\nnameserver fe80::1%eth0\n");
    }
    return nld::fail(nld::Errc::kNotFound, "no such file");
  };
  options.own_addresses = {*nld::IpAddress::parse("169.254.20.10")};
  options.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "UPSTREAM") {  // hermetic: the process environment never decides a path
      return std::string("192.0.2.7:5353");
    }
    return std::nullopt;
  };
  auto config = parseCorefile(text, "fuzz.Corefile", options);
  if (!config) {
    if (config.error().message().rfind("fuzz.Corefile", 0) != 0) {
      std::abort();  // every error must name the file
    }
    return 0;
  }
  size_t routed = 0;
  for (const auto& block : config->blocks) {
    if (block.zones.empty() || (block.forward && block.forward->to.empty())) {
      std::abort();  // invariants of a valid Config
    }
    if (routed++ < 64) {  // route() is linear in blocks × zones: keep the target linear too
      const auto* b =
          config->route(block.zones.front(),
                        block.bind.empty() ? nld::IpAddress() : block.bind.front(), block.port);
      if (b == nullptr && !block.bind.empty()) {
        std::abort();  // a block's own zone on its own bind address must route somewhere
      }
    }
  }
  // The substitution path takes the same untrusted text (a user's base Corefile).
  SubstitutionParams params;
  params.local_ips = {*nld::IpAddress::parse("169.254.20.10")};
  params.cluster_dns = nld::IpAddress::parse("10.96.0.10");
  params.kube_dns.stub_domains["acme.local"] = {"192.0.2.9"};
  (void)renderRuntimeCorefile(text, params);
  return 0;
}
