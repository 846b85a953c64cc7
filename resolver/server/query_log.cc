#include "resolver/server/query_log.h"

#include <array>
#include <charconv>
#include <chrono>

#include "resolver/dns/types.h"
#include "resolver/metrics/metrics.h"

namespace nld::resolver::server {
namespace {

struct TypeName {
  uint16_t code;
  const char* name;
};
constexpr std::array<TypeName, 29> kTypes = {{
    {1, "A"},      {2, "NS"},     {5, "CNAME"},   {6, "SOA"},    {12, "PTR"},        {13, "HINFO"},
    {15, "MX"},    {16, "TXT"},   {17, "RP"},     {18, "AFSDB"}, {28, "AAAA"},       {29, "LOC"},
    {33, "SRV"},   {35, "NAPTR"}, {39, "DNAME"},  {41, "OPT"},   {43, "DS"},         {44, "SSHFP"},
    {46, "RRSIG"}, {47, "NSEC"},  {48, "DNSKEY"}, {50, "NSEC3"}, {51, "NSEC3PARAM"}, {52, "TLSA"},
    {64, "SVCB"},  {65, "HTTPS"}, {251, "IXFR"},  {252, "AXFR"}, {255, "ANY"},
}};

constexpr std::array<const char*, 16> kOpcodes = {
    "QUERY",   "IQUERY",  "STATUS",   "OPCODE3",  "NOTIFY",   "UPDATE",   "STATEFUL", "OPCODE7",
    "OPCODE8", "OPCODE9", "OPCODE10", "OPCODE11", "OPCODE12", "OPCODE13", "OPCODE14", "OPCODE15"};

std::string seconds(uint64_t ns) {
  // Go's strconv.FormatFloat(d.Seconds(), 'f', -1, 64): shortest fixed notation.
  char buf[64];
  auto r =
      std::to_chars(buf, buf + sizeof buf, static_cast<double>(ns) / 1e9, std::chars_format::fixed);
  return std::string(buf, r.ptr) + "s";
}

}  // namespace

bool ConsolidateRule::matches(const std::string& error) const noexcept {
  try {
    return std::regex_search(error, re);
  } catch (...) {  // std::regex_error (complexity/stack): treat as no match
    return false;
  }
}

std::string ConsolidateRule::summary(uint64_t count) const {
  return std::to_string(count) + " errors like '" + pattern + "' occurred in last " + period_text;
}

bool ErrorLimiter::rollWindow(net::MonoTime now) noexcept {
  if (now - window_start_ < std::chrono::seconds(1)) {
    return false;
  }
  window_start_ = now;
  admitted_ = 0;
  return true;
}

ErrorLimiter::Verdict ErrorLimiter::admit(net::MonoTime now) noexcept {
  Verdict v;
  if (rollWindow(now)) {
    v.suppressed = suppressed_;
    suppressed_ = 0;
  }
  if (admitted_ < kPerSecond) {
    ++admitted_;
    v.log = true;
  } else {
    ++suppressed_;
  }
  return v;
}

uint64_t ErrorLimiter::flush(net::MonoTime now) noexcept {
  if (suppressed_ == 0 || !rollWindow(now)) {
    return 0;
  }
  uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

std::string formatError(unsigned rcode, std::string_view qname, uint16_t qtype,
                        std::string_view error) {
  std::string s = std::to_string(rcode);
  s += ' ';
  s += qname;
  s += ' ';
  s += typeText(qtype);
  s += ": ";
  s += error;
  return s;
}

std::string typeText(uint16_t qtype) {
  for (const auto& t : kTypes) {
    if (t.code == qtype) {
      return t.name;
    }
  }
  return "TYPE" + std::to_string(qtype);
}

std::string classText(uint16_t qclass) {
  switch (qclass) {
    case 1:
      return "IN";
    case 3:
      return "CH";
    case 4:
      return "HS";
    case 254:
      return "NONE";
    case 255:
      return "ANY";
    default:
      return "CLASS" + std::to_string(qclass);
  }
}

std::string flagsText(uint16_t flags) {
  struct Bit {
    uint16_t mask;
    const char* name;
  };
  constexpr Bit kBits[] = {{dns::flag::kQr, "qr"}, {dns::flag::kAa, "aa"}, {dns::flag::kTc, "tc"},
                           {dns::flag::kRd, "rd"}, {dns::flag::kRa, "ra"}, {dns::flag::kZ, "z"},
                           {dns::flag::kAd, "ad"}, {dns::flag::kCd, "cd"}};
  std::string s;
  for (const auto& b : kBits) {
    if (flags & b.mask) {
      if (!s.empty()) {
        s += ',';
      }
      s += b.name;
    }
  }
  return s;
}

uint8_t logClassOf(dns::ResponseType type) noexcept {
  switch (type) {
    case dns::ResponseType::kNoError:
    case dns::ResponseType::kDelegation:
      return 1;
    case dns::ResponseType::kNameError:
    case dns::ResponseType::kNoData:
      return 2;
    case dns::ResponseType::kServerError:
    case dns::ResponseType::kOtherError:
      return 4;
    case dns::ResponseType::kMeta:
      return 0;
  }
  return 0;
}

std::string formatQueryLog(const QueryLogLine& l) {
  std::string s;
  s.reserve(160);
  s += l.client.ip.toUrlHost();
  s += ':';
  s += std::to_string(l.client.port);
  s += " - ";
  s += std::to_string(l.id);
  s += " \"";
  s += typeText(l.qtype);
  s += ' ';
  s += classText(l.qclass);
  s += ' ';
  s += l.name;
  s += l.tcp ? " tcp " : " udp ";
  s += std::to_string(l.size);
  s += l.do_bit ? " true " : " false ";
  s += std::to_string(l.bufsize);
  s += "\" ";
  uint16_t flags = 0;
  if (l.answer.size() >= dns::kHeaderSize) {
    flags = dns::readU16(l.answer.data() + 2);
    s += metrics::rcodeLabel(metrics::rcodeIndex(flags & dns::flag::kRcodeMask));
  } else {
    s += '-';
  }
  s += ' ';
  std::string f = flagsText(flags);
  s += f.empty() ? "-" : f;
  s += ' ';
  s += std::to_string(l.answer.size());
  s += ' ';
  s += seconds(l.duration_ns);
  if (l.combined) {
    s += " \"";
    s += kOpcodes[(flags & dns::flag::kOpcodeMask) >> 11];
    s += '"';
  }
  return s;
}

}  // namespace nld::resolver::server
