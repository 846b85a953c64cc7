#include "resolver/plugins/template.h"

#include <cctype>
#include <cstring>
#include <new>
#include <optional>

#include "base/ip.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/types.h"

namespace nld::resolver::plugins {
namespace {

const char* className(uint16_t c) {
  switch (c) {
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
      return "";
  }
}

std::string typeName(uint16_t t) {
  static const std::pair<uint16_t, const char*> k[] = {
      {1, "A"},      {2, "NS"},     {5, "CNAME"},  {6, "SOA"},   {12, "PTR"},
      {13, "HINFO"}, {15, "MX"},    {16, "TXT"},   {28, "AAAA"}, {33, "SRV"},
      {35, "NAPTR"}, {43, "DS"},    {46, "RRSIG"}, {47, "NSEC"}, {48, "DNSKEY"},
      {64, "SVCB"},  {65, "HTTPS"}, {255, "ANY"},  {257, "CAA"}};
  for (const auto& [v, n] : k) {
    if (v == t) {
      return n;
    }
  }
  return "TYPE" + std::to_string(t);
}

std::vector<std::string> tokens(std::string_view s, bool& bad) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c)) != 0 || c == '(' || c == ')') {
      ++i;
      continue;
    }
    if (c == ';') {
      break;
    }
    std::string t;
    if (c == '"') {
      ++i;
      while (i < s.size() && s[i] != '"') {
        if (s[i] == '\\' && i + 1 < s.size()) {
          ++i;
        }
        t += s[i++];
      }
      if (i >= s.size()) {
        bad = true;
        return out;
      }
      ++i;
      out.push_back("\"" + t);  // marks a quoted string
      continue;
    }
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) == 0 && s[i] != '(' &&
           s[i] != ')' && s[i] != ';') {
      t += s[i++];
    }
    out.push_back(std::move(t));
  }
  return out;
}

std::optional<uint32_t> number(std::string_view s, uint64_t max) {
  if (s.empty() || s.size() > 10) {
    return std::nullopt;
  }
  uint64_t v = 0;
  for (char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return std::nullopt;
    }
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) {
    return std::nullopt;
  }
  return static_cast<uint32_t>(v);
}

bool appendName(std::string_view text, std::vector<uint8_t>& out) {
  std::string fq(text);
  if (fq.empty()) {
    return false;
  }
  if (fq.back() != '.') {
    fq += '.';
  }
  uint8_t buf[dns::kMaxNameLength];
  size_t n = dns::nameFromText(fq, buf);
  if (n == 0) {
    return false;
  }
  out.insert(out.end(), buf, buf + n);
  return true;
}

void put16(std::vector<uint8_t>& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, v >> 16);
  put16(out, v & 0xffff);
}

}  // namespace

Result<void> appendRecordText(std::string_view text, std::vector<uint8_t>& out) {
  auto bad = [&](const std::string& why) -> Result<void> {
    return fail(Errc::kInvalidArgument, "bad record '" + std::string(text) + "': " + why);
  };
  bool unterminated = false;
  auto t = tokens(text, unterminated);
  if (unterminated) {
    return bad("unterminated quoted string");
  }
  if (t.size() < 2) {
    return bad("too short");
  }
  std::vector<uint8_t> rr;
  if (!appendName(t[0], rr)) {
    return bad("invalid owner name");
  }
  size_t i = 1;
  uint32_t ttl = 3600;
  uint16_t cls = dns::qclass::kIn;
  for (int k = 0; k < 2 && i < t.size(); ++k) {  // [TTL] [CLASS] in either order
    if (auto v = number(t[i], 0x7fffffff)) {
      ttl = *v;
      ++i;
    } else if (t[i] == "IN" || t[i] == "CH" || t[i] == "HS") {
      cls = t[i] == "IN" ? 1 : t[i] == "CH" ? 3 : 4;
      ++i;
    }
  }
  if (i >= t.size()) {
    return bad("no type");
  }
  const std::string& type = t[i++];
  std::vector<std::string> rd(t.begin() + static_cast<std::ptrdiff_t>(i), t.end());
  std::vector<uint8_t> data;
  uint16_t code = 0;
  auto need = [&](size_t n) { return rd.size() == n; };
  if (type == "A" || type == "AAAA") {
    code = type == "A" ? dns::qtype::kA : dns::qtype::kAaaa;
    auto ip = need(1) ? IpAddress::parse(rd[0]) : std::nullopt;
    if (!ip || ip->isV4() != (type == "A")) {
      return bad("invalid " + type + " address");
    }
    data.assign(ip->bytes(), ip->bytes() + ip->size());
  } else if (type == "CNAME" || type == "NS" || type == "PTR") {
    code = type == "CNAME" ? 5 : type == "NS" ? 2 : 12;
    if (!need(1) || !appendName(rd[0], data)) {
      return bad("invalid target name");
    }
  } else if (type == "MX") {
    code = 15;
    auto pref = need(2) ? number(rd[0], 0xffff) : std::nullopt;
    if (!pref) {
      return bad("invalid MX preference");
    }
    put16(data, *pref);
    if (!appendName(rd[1], data)) {
      return bad("invalid MX exchange");
    }
  } else if (type == "SRV") {
    code = 33;
    if (!need(4)) {
      return bad("SRV needs PRIORITY WEIGHT PORT TARGET");
    }
    for (int k = 0; k < 3; ++k) {
      auto v = number(rd[static_cast<size_t>(k)], 0xffff);
      if (!v) {
        return bad("invalid SRV number");
      }
      put16(data, *v);
    }
    if (!appendName(rd[3], data)) {
      return bad("invalid SRV target");
    }
  } else if (type == "SOA") {
    code = 6;
    if (!need(7) || !appendName(rd[0], data) || !appendName(rd[1], data)) {
      return bad("SOA needs MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM");
    }
    for (size_t k = 2; k < 7; ++k) {
      auto v = number(rd[k], 0xffffffff);
      if (!v) {
        return bad("invalid SOA number");
      }
      put32(data, *v);
    }
  } else if (type == "TXT") {
    code = 16;
    if (rd.empty()) {
      return bad("TXT needs a string");
    }
    for (const auto& s : rd) {
      std::string_view v = s;
      if (!v.empty() && v.front() == '"') {
        v.remove_prefix(1);
      }
      if (v.size() > 255) {
        return bad("TXT string longer than 255");
      }
      data.push_back(static_cast<uint8_t>(v.size()));
      data.insert(data.end(), v.begin(), v.end());
    }
  } else {
    return bad("record type '" + type + "' is not supported by nodelocaldns's template");
  }
  if (data.size() > 0xffff) {
    return bad("too long");
  }
  put16(rr, code);
  put16(rr, cls);
  put32(rr, ttl);
  put16(rr, static_cast<uint32_t>(data.size()));
  rr.insert(rr.end(), data.begin(), data.end());
  out.insert(out.end(), rr.begin(), rr.end());
  return {};
}

Result<std::shared_ptr<Templates>> Templates::create(
    const std::vector<config::TemplateConfig>& cfg) {
  std::shared_ptr<Templates> h(new Templates());
  h->config_ = cfg;
  for (const auto& c : h->config_) {
    Compiled t;
    t.config = &c;
    t.zones = wireZones(c.zones);
    t.fall_zones = wireZones(c.fallthrough.zones);
    h->all_zones_.insert(h->all_zones_.end(), t.zones.begin(), t.zones.end());
    std::vector<std::string> match = c.match.empty() ? std::vector<std::string>{".*"} : c.match;
    for (const auto& m : match) {
      auto g = config::translateGoRegex(m);
      if (!g) {
        return fail(std::move(g.error()));
      }
      try {
        t.regexes.push_back({std::regex(g->ecmascript, std::regex::ECMAScript), g->group_names});
      } catch (const std::regex_error& e) {
        return fail(Errc::kInvalidArgument, std::string("template regexp: ") + e.what());
      }
    }
    auto compile = [](const std::vector<std::string>& in,
                      std::vector<config::GoTemplate>& out) -> Result<void> {
      for (const auto& s : in) {
        auto g = config::GoTemplate::parse(s);
        if (!g) {
          return fail(std::move(g.error()));
        }
        out.push_back(std::move(*g));
      }
      return {};
    };
    if (auto r = compile(c.answer, t.answer); !r) {
      return fail(std::move(r.error()));
    }
    if (auto r = compile(c.authority, t.authority); !r) {
      return fail(std::move(r.error()));
    }
    if (auto r = compile(c.additional, t.additional); !r) {
      return fail(std::move(r.error()));
    }
    h->templates_.push_back(std::move(t));
  }
  return h;
}

Outcome Templates::build(const Compiled& t, const dns::Query& q, std::span<const uint8_t> wire,
                         const std::string& name, size_t zone_index, const std::smatch& m,
                         const Regex& re, std::span<uint8_t> out) const {
  const config::TemplateConfig& c = *t.config;
  if (c.rcode == static_cast<uint8_t>(dns::Rcode::kServFail)) {
    return Outcome::servFail();
  }
  std::vector<std::string> match;
  std::vector<std::pair<std::string, std::string>> groups;
  for (size_t i = 0; i < m.size(); ++i) {
    match.push_back(m[i].str());
    groups.emplace_back(std::to_string(i), m[i].str());
  }
  for (size_t i = 0; i < m.size() && i < re.names.size(); ++i) {
    if (!re.names[i].empty()) {
      groups.emplace_back(re.names[i], m[i].str());
    }
  }
  const std::string zone = c.zones[zone_index];
  const std::string qclass = className(q.qclass != 255 ? q.qclass : c.qclass);
  const std::string qtype = typeName(q.qtype != 255 ? q.qtype : c.qtype);
  config::GoTemplate::Data data{name, qclass, qtype, zone, &match, &groups};
  std::vector<uint8_t> sections[3];
  const std::vector<config::GoTemplate>* lists[3] = {&t.answer, &t.authority, &t.additional};
  uint16_t counts[3] = {0, 0, 0};
  for (int s = 0; s < 3; ++s) {
    for (const auto& tmpl : *lists[s]) {
      auto text = tmpl.execute(data);
      if (!text || !appendRecordText(*text, sections[s])) {
        return Outcome::servFail();  // CoreDNS: template or RR failure → SERVFAIL
      }
      ++counts[s];
    }
  }
  size_t len = q.question_end;
  size_t total = len + sections[0].size() + sections[1].size() + sections[2].size();
  if (total > out.size()) {
    return Outcome::servFail();
  }
  if (writeAnswerHead(q, wire, c.rcode, out) == 0) {
    return Outcome::servFail();
  }
  for (size_t s = 0; s < 3; ++s) {
    dns::writeU16(out.data() + 6 + 2 * s, counts[s]);
    if (!sections[s].empty()) {  // an empty vector's data() may be null: not for memcpy
      std::memcpy(out.data() + len, sections[s].data(), sections[s].size());
    }
    len += sections[s].size();
  }
  if (q.edns) {
    len = dns::appendOpt(out, len, q.doBit());
    if (len == 0) {
      return Outcome::servFail();
    }
  }
  return Outcome::answer(len);
}

Outcome Templates::serve(const dns::Query& q, std::span<const uint8_t> wire, const uint8_t* name,
                         size_t length, std::span<uint8_t> out) const noexcept {
  if (longestZone(all_zones_, name, length) < 0) {
    return Outcome::next();
  }
  try {
    const std::string text = dns::nameToText(std::span<const uint8_t>(name, length), 0);
    for (const auto& t : templates_) {
      const config::TemplateConfig& c = *t.config;
      int zone = longestZone(t.zones, name, length);
      if (zone < 0) {
        continue;
      }
      if (c.qclass != 255 && q.qclass != 255 && q.qclass != c.qclass) {
        continue;
      }
      if (c.qtype != 255 && q.qtype != 255 && q.qtype != c.qtype) {
        continue;
      }
      for (const auto& re : t.regexes) {
        std::smatch m;
        if (std::regex_search(text, m, re.re)) {
          return build(t, q, wire, text, static_cast<size_t>(zone), m, re, out);
        }
      }
      if (c.fallthrough.enabled && longestZone(t.fall_zones, name, length) >= 0) {
        continue;
      }
      size_t len = writeAnswerHead(q, wire, static_cast<uint8_t>(dns::Rcode::kNxDomain), out);
      if (len != 0 && q.edns) {
        len = dns::appendOpt(out, len, q.doBit());
      }
      return len == 0 ? Outcome::servFail() : Outcome::answer(len);
    }
  } catch (const std::exception&) {  // bad_alloc, regex_error (complexity): fail this query
    return Outcome::servFail();
  }
  return Outcome::next();
}

}  // namespace nld::resolver::plugins
