#include "resolver/cache/cache_scope.h"

#include "resolver/dns/types.h"

namespace nld::resolver::cache {
namespace {

Result<std::vector<std::vector<uint8_t>>> toWire(const std::vector<std::string>& zones) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& z : zones) {
    auto wire = dns::lowerNameFromText(z);
    if (wire.empty()) {
      return fail(Errc::kInvalidArgument, "invalid cache zone '" + z + "'");
    }
    out.push_back(std::move(wire));
  }
  return out;
}

}  // namespace

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
