#include "resolver/config/go_syntax.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <regex>
#include <string_view>
#include <vector>

#include "resolver/config/config.h"

namespace nld::resolver::config::detail {

namespace {

Result<std::chrono::nanoseconds> badDuration(std::string_view text) {
  return fail(Errc::kInvalidArgument, "invalid duration '" + std::string(text) + "'");
}

}  // namespace

Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") {
    return std::chrono::nanoseconds(0);
  }
  if (s.empty()) {
    return badDuration(text);
  }
  // Accumulate in long double: precise enough for 64-bit nanoseconds, and overflow is detected.
  long double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      value = value * 10 + (s[i] - '0');
      ++i;
      digits = true;
    }
    // The fraction as an integer over a power of ten (Go does the same), so "0.05s" is exactly
    // 50ms: summing digit * 0.1^k in floating point lands just below (49.999999ms).
    uint64_t frac = 0;
    long double frac_scale = 1;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        if (frac_scale < 1e18L) {  // later digits are below a nanosecond for every unit
          frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
          frac_scale *= 10;
        }
        ++i;
        digits = true;
      }
    }
    if (!digits) {
      return badDuration(text);
    }
    size_t u = i;
    while (u < s.size() && !(s[u] >= '0' && s[u] <= '9') && s[u] != '.') {
      ++u;
    }
    std::string_view unit = s.substr(i, u - i);
    long double mult = 0;
    if (unit == "ns") {
      mult = 1;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      mult = 1e3L;
    } else if (unit == "ms") {
      mult = 1e6L;
    } else if (unit == "s") {
      mult = 1e9L;
    } else if (unit == "m") {
      mult = 60e9L;
    } else if (unit == "h") {
      mult = 3600e9L;
    } else {
      return fail(Errc::kInvalidArgument,
                  unit.empty() ? "missing unit in duration '" + std::string(text) + "'"
                               : "unknown unit '" + std::string(unit) + "' in duration '" +
                                     std::string(text) + "'");
    }
    total += value * mult + static_cast<long double>(frac) * mult / frac_scale;
    if (total > static_cast<long double>(std::numeric_limits<int64_t>::max())) {
      return fail(Errc::kInvalidArgument, "duration '" + std::string(text) + "' out of range");
    }
    s.remove_prefix(u);
  }
  auto ns = static_cast<int64_t>(total);
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

std::optional<int64_t> parseGoInt(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) {
    return std::nullopt;
  }
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  if (!negative && v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return std::nullopt;
  }
  if (negative && v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + 1) {
    return std::nullopt;
  }
  return negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

Result<HostPort> splitHostPort(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::kInvalidArgument, "address '" + std::string(text) + "': " + std::string(why));
  };
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    if (close + 1 == text.size()) {
      return bad("missing port");
    }
    if (text[close + 1] != ':') {
      return bad("unexpected text after ']'");
    }
    std::string_view port = text.substr(close + 2);
    if (port.find(':') != std::string_view::npos) {
      return bad("too many colons");
    }
    return HostPort{std::string(text.substr(1, close - 1)), std::string(port)};
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return bad("missing port");
  }
  std::string_view host = text.substr(0, colon);
  if (host.find(':') != std::string_view::npos) {
    return bad("too many colons (write IPv6 as [addr]:port)");
  }
  if (host.find_first_of("[]") != std::string_view::npos) {
    return bad("unexpected '[' or ']'");
  }
  return HostPort{std::string(host), std::string(text.substr(colon + 1))};
}

std::string_view stripZone(std::string_view host) {
  size_t pct = host.find('%');
  return pct == std::string_view::npos ? host : host.substr(0, pct);
}

std::string fqdnLower(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  if (out.empty() || out.back() != '.') {
    out.push_back('.');
  }
  return out;
}

bool isValidDomainName(std::string_view fqdn) {
  if (fqdn == ".") {
    return true;
  }
  if (fqdn.empty() || fqdn.back() != '.' || fqdn.size() > 254) {
    return false;
  }
  size_t start = 0;
  while (start < fqdn.size()) {
    size_t dot = fqdn.find('.', start);
    size_t len = dot - start;
    if (len == 0 || len > 63) {
      return false;
    }
    for (size_t i = start; i < dot; ++i) {
      auto c = static_cast<unsigned char>(fqdn[i]);
      if (c <= ' ' || c == 0x7f || c == '"' || c == '(' || c == ')' || c == ';' || c == '\\' ||
          c == '@' || c == '$' || c == '{' || c == '}') {
        return false;
      }
    }
    start = dot + 1;
  }
  return true;
}

namespace {

Result<std::vector<std::string>> reverseZones(std::string_view cidr) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::kInvalidArgument,
                "invalid CIDR '" + std::string(cidr) + "': " + std::string(why));
  };
  size_t slash = cidr.find('/');
  auto ip = IpAddress::parse(cidr.substr(0, slash));
  auto len = parseGoInt(cidr.substr(slash + 1));
  if (!ip) {
    return bad("not an IP address");
  }
  if (!len || *len < 0 || *len > static_cast<int64_t>(ip->maxPrefix())) {
    return bad("bad prefix length");
  }
  const unsigned unit = ip->isV4() ? 8 : 4;  // octets for in-addr.arpa, nibbles for ip6.arpa
  const auto prefix = static_cast<unsigned>(*len);
  const unsigned rounded = (prefix + unit - 1) / unit * unit;
  const unsigned count = 1u << (rounded - prefix);  // ≤ 128 (v4) or 8 (v6)
  const uint8_t* b = ip->bytes();
  auto unitAt = [&](unsigned index) -> unsigned {  // index-th octet or nibble
    if (unit == 8) {
      return b[index];
    }
    uint8_t byte = b[index / 2];
    return index % 2 == 0 ? byte >> 4 : byte & 0x0f;
  };
  std::vector<std::string> zones;
  const unsigned units = rounded / unit;
  for (unsigned k = 0; k < count; ++k) {
    std::vector<unsigned> parts;
    for (unsigned u = 0; u < units; ++u) {
      parts.push_back(unitAt(u));
    }
    if (units > 0) {
      // The host bits inside the last unit enumerate the sub-zones.
      unsigned host_bits = rounded - prefix;
      unsigned mask = (1u << host_bits) - 1;
      parts.back() = (parts.back() & ~mask) + k;
    }
    std::string zone;
    for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
      if (unit == 8) {
        zone += std::to_string(*it);
      } else {
        zone.push_back("0123456789abcdef"[*it]);
      }
      zone.push_back('.');
    }
    zone += ip->isV4() ? "in-addr.arpa." : "ip6.arpa.";
    zones.push_back(std::move(zone));
  }
  return zones;
}

}  // namespace

Result<std::vector<std::string>> normalizeZones(std::string_view name) {
  if (name.find('/') != std::string_view::npos) {
    return reverseZones(name);
  }
  std::string z = fqdnLower(name);
  if (!isValidDomainName(z)) {
    return fail(Errc::kInvalidArgument, "invalid zone name '" + std::string(name) + "'");
  }
  return std::vector<std::string>{z};
}

bool isSubdomain(std::string_view name, std::string_view zone) {
  if (zone == ".") {
    return true;
  }
  if (name.size() < zone.size()) {
    return false;
  }
  if (name.substr(name.size() - zone.size()) != zone) {
    return false;
  }
  return name.size() == zone.size() || name[name.size() - zone.size() - 1] == '.';
}

Result<SocketAddress> parseListenAddress(std::string_view text) {
  auto hp = splitHostPort(text);
  if (!hp) {
    return fail(std::move(hp.error()));
  }
  std::optional<uint16_t> port = hp->port == "0" ? std::optional<uint16_t>(0) : parsePort(hp->port);
  if (!port) {
    return fail(Errc::kInvalidArgument, "invalid port in '" + std::string(text) + "'");
  }
  if (hp->host.empty()) {
    return SocketAddress{IpAddress(), *port};
  }
  if (hp->host == "localhost") {
    return SocketAddress{*IpAddress::parse("127.0.0.1"), *port};
  }
  auto ip = IpAddress::parse(hp->host);
  if (!ip) {
    return fail(Errc::kInvalidArgument,
                "'" + hp->host + "' is not an IP address (host names are not supported)");
  }
  return SocketAddress{*ip, *port};
}

}  // namespace nld::resolver::config::detail

namespace nld::resolver::config {

namespace detail {

namespace {

// The limits Go's regexp/syntax enforces and std::regex does not: a counted repeat of at most
// 1000 (also when nested: Go's repeatIsValid), and no backreferences. Checked before std::regex
// sees the pattern, whose compiler overflows a `long` on a long count (UBSan, found by the
// Corefile fuzzer) and expands nested counts into as many states as their product.
std::optional<std::string> goRepeatError(std::string_view p) {
  constexpr int64_t kMaxRepeat = 1000;
  std::vector<int64_t> inner{1};  // per open group: the largest repeat factor inside it
  int64_t last_atom = 1;          // factor of the atom a following {n,m} would repeat
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '\\') {
      if (i + 1 < p.size() && p[i + 1] >= '0' && p[i + 1] <= '9') {
        return std::string(
            "invalid escape sequence: backreferences and octal escapes are not "
            "supported");
      }
      ++i;
      last_atom = 1;
      continue;
    }
    if (in_class) {
      in_class = c != ']';
      continue;
    }
    if (c == '[') {
      in_class = true;
      last_atom = 1;
    } else if (c == '(') {
      inner.push_back(1);
    } else if (c == ')') {
      last_atom = inner.back();
      if (inner.size() > 1) {
        inner.pop_back();
        inner.back() = std::max(inner.back(), last_atom);
      }
    } else if (c == '{') {
      size_t j = i + 1;
      int64_t lo = 0;
      int64_t hi = -1;
      auto number = [&](int64_t& out) {
        size_t start = j;
        out = 0;
        while (j < p.size() && p[j] >= '0' && p[j] <= '9') {
          out = std::min<int64_t>(out * 10 + (p[j] - '0'), kMaxRepeat + 1);
          ++j;
        }
        return j > start;
      };
      if (!number(lo)) {
        last_atom = 1;  // a literal '{' (std::regex decides whether that is allowed)
        continue;
      }
      if (j < p.size() && p[j] == ',') {
        ++j;
        number(hi);
      }
      int64_t count = std::max(lo, hi);
      if (count > kMaxRepeat) {
        return std::string("invalid repeat count: more than 1000");
      }
      int64_t factor = std::max<int64_t>(count, 1) * last_atom;
      if (factor > kMaxRepeat) {
        return std::string("invalid nested repetition operator: repeats more than 1000 times");
      }
      inner.back() = std::max(inner.back(), factor);
      last_atom = factor;
      i = j - 1;
    } else if (c != '*' && c != '+' && c != '?') {
      last_atom = 1;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> regexError(const std::string& pattern) {
  // std::regex compiles recursively: bound the input (the Corefile fuzzer reaches this).
  if (pattern.size() > 256) {
    return std::string("longer than 256 characters");
  }
  if (auto bad = goRepeatError(pattern)) {
    return bad;
  }
  try {
    std::regex re(pattern, std::regex::ECMAScript);
    (void)re;
  } catch (const std::regex_error& e) {
    return std::string(e.what());
  }
  return std::nullopt;
}

std::string goDurationString(std::chrono::nanoseconds d) {
  int64_t ns = d.count();
  if (ns == 0) {
    return "0s";
  }
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  // Fraction without trailing zeros: "1.5", "2".
  auto fixed = [](uint64_t v, uint64_t unit) {
    std::string s = std::to_string(v / unit);
    uint64_t frac = v % unit;
    if (frac != 0) {
      std::string f = std::to_string(frac);
      f.insert(0, std::to_string(unit).size() - 1 - f.size(), '0');
      while (!f.empty() && f.back() == '0') {
        f.pop_back();
      }
      s += "." + f;
    }
    return s;
  };
  if (u < 1000) {
    return sign + std::to_string(u) + "ns";
  }
  if (u < 1000000) {
    return sign + fixed(u, 1000) + "µs";
  }
  if (u < 1000000000) {
    return sign + fixed(u, 1000000) + "ms";
  }
  uint64_t secs_ns = u % 60000000000ULL;
  uint64_t mins = u / 60000000000ULL;
  std::string out = sign;
  if (mins >= 60) {
    out += std::to_string(mins / 60) + "h";
    out += std::to_string(mins % 60) + "m";
  } else if (mins > 0) {
    out += std::to_string(mins) + "m";
  }
  return out + fixed(secs_ns, 1000000000) + "s";
}

}  // namespace detail

Result<std::chrono::nanoseconds> parseGoDuration(std::string_view text) {
  return detail::parseGoDuration(text);
}

std::string formatGoDuration(std::chrono::nanoseconds d) { return detail::goDurationString(d); }

}  // namespace nld::resolver::config
