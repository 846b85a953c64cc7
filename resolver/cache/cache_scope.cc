#include "resolver/cache/cache_scope.h"

#include <cstring>

#include "resolver/dns/name.h"
#include "resolver/dns/types.h"

namespace nld::resolver::cache {
namespace {

Result<std::vector<std::vector<uint8_t>>> toWire(const std::vector<std::string>& zones) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& z : zones) {
    uint8_t wire[dns::kMaxNameLength];
    size_t n = dns::nameFromText(z, wire);
    if (n == 0) {
      return fail(Errc::kInvalidArgument, "invalid cache zone '" + z + "'");
    }
    for (size_t i = 0; i < n; ++i) {
      wire[i] = dns::asciiLower(wire[i]);
    }
    out.emplace_back(wire, wire + n);
  }
  return out;
}

}  // namespace

bool nameIsUnder(const uint8_t* name, size_t name_length, const uint8_t* zone,
                 size_t zone_length) noexcept {
  if (zone_length == 0 || zone_length > name_length) {
    return false;
  }
  size_t off = name_length - zone_length;
  size_t pos = 0;
  while (pos < off) {
    pos += 1 + name[pos];
  }
  return pos == off && std::memcmp(name + off, zone, zone_length) == 0;
}

Result<CacheScope> CacheScope::create(const std::vector<std::string>& zones,
                                      const std::vector<std::string>& success_disabled,
                                      const std::vector<std::string>& denial_disabled) {
  CacheScope s;
  auto z = toWire(zones);
  auto ns = z ? toWire(success_disabled) : z;
  auto nd = ns ? toWire(denial_disabled) : ns;
  if (!nd) {
    return fail(std::move(nd.error()));
  }
  s.zones_ = std::move(*z);
  s.no_success_ = std::move(*ns);
  s.no_denial_ = std::move(*nd);
  return s;
}

bool CacheScope::underAny(const Zones& zones, const uint8_t* name, size_t name_length) noexcept {
  for (const auto& z : zones) {
    if (nameIsUnder(name, name_length, z.data(), z.size())) {
      return true;
    }
  }
  return false;
}

bool CacheScope::mayStore(const uint8_t* name, size_t name_length,
                          dns::ResponseType type) const noexcept {
  switch (type) {
    case dns::ResponseType::kNoError:
    case dns::ResponseType::kDelegation:
      return no_success_.empty() || !underAny(no_success_, name, name_length);
    case dns::ResponseType::kNameError:
    case dns::ResponseType::kNoData:
    case dns::ResponseType::kServerError:
      return no_denial_.empty() || !underAny(no_denial_, name, name_length);
    default:
      return true;  // the cache itself refuses the rest
  }
}

}  // namespace nld::resolver::cache
