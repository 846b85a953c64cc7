// libFuzzer target: resolver/config's parseResolvConf() must never crash or hang on any input
// (resolv.conf is written by DHCP clients, systemd-resolved and whoever owns the node image), and
// what it returns must be consistent: every nameserver is on port 53 and not IPv6 link-local,
// there are never more results than lines, every note names a line, and writing the nameservers
// back as `nameserver` lines parses to the same list with no notes.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "resolver/config/config.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace nld::resolver::config;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  ResolvConf conf = parseResolvConf(text);
  size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  check(conf.nameservers.size() + conf.notes.size() <= lines);
  for (const auto& note : conf.notes) {
    check(note.rfind("line ", 0) == 0);
  }
  std::string again;
  for (const auto& ns : conf.nameservers) {
    check(ns.port == 53);
    again += "nameserver " + ns.ip.toString() + "\n";
  }
  ResolvConf back = parseResolvConf(again);
  check(back.notes.empty());
  check(back.nameservers.size() == conf.nameservers.size());
  for (size_t i = 0; i < back.nameservers.size(); ++i) {
    check(back.nameservers[i].ip == conf.nameservers[i].ip);
    check(back.nameservers[i].port == 53);
  }
  return 0;
}
