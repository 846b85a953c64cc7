#include "resolver/plugins/plugin.h"

#include <cstring>

#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/types.h"

namespace nld::resolver::plugins {

std::vector<std::vector<uint8_t>> wireZones(const std::vector<std::string>& zones) {
  std::vector<std::vector<uint8_t>> out;
  for (const auto& z : zones) {
    auto w = dns::lowerNameFromText(z);
    if (!w.empty()) {
      out.push_back(std::move(w));
    }
  }
  return out;
}

int longestZone(const std::vector<std::vector<uint8_t>>& zones, const uint8_t* name,
                size_t length) noexcept {
  int best = -1;
  for (size_t i = 0; i < zones.size(); ++i) {
    if (dns::nameIsUnder(name, length, zones[i].data(), zones[i].size()) &&
        (best < 0 || zones[i].size() > zones[static_cast<size_t>(best)].size())) {
      best = static_cast<int>(i);
    }
  }
  return best;
}

size_t writeAnswerHead(const dns::Query& q, std::span<const uint8_t> wire, uint8_t rcode,
                       std::span<uint8_t> out) noexcept {
  if (out.size() < q.question_end || wire.size() < q.question_end) {
    return 0;
  }
  std::memcpy(out.data(), wire.data(), q.question_end);
  const uint16_t flags = dns::flag::kQr | dns::flag::kAa |
                         (q.flags & (dns::flag::kRd | dns::flag::kCd | 0x7800)) | (rcode & 0xf);
  dns::writeU16(out.data() + 2, flags);
  dns::writeU16(out.data() + 4, 1);
  dns::writeU16(out.data() + 6, 0);
  dns::writeU16(out.data() + 8, 0);
  dns::writeU16(out.data() + 10, 0);
  return q.question_end;
}

}  // namespace nld::resolver::plugins
