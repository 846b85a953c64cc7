// Test helper: builds DNS messages (queries and responses) byte by byte, with optional name
// compression against the question name, so parser, builder and cache tests read as tables.
//
//   auto q = test::Msg().id(7).rd().question("www.Example.com", qtype::kA).edns(1232, true).wire();
//   auto r = test::Msg::replyTo(q).answer("www.example.com", qtype::kA, 300, test::ipv4(1,2,3,4))
//                .wire();
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "resolver/dns/name.h"
#include "resolver/dns/types.h"

namespace nld::test {

using Bytes = std::vector<uint8_t>;

inline Bytes nameWire(std::string_view text) {
  uint8_t buf[256];
  size_t n = resolver::dns::nameFromText(text, buf);
  if (n == 0) {
    throw std::invalid_argument("bad test name: " + std::string(text));
  }
  return Bytes(buf, buf + n);
}

inline Bytes ipv4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) { return {a, b, c, d}; }

class Msg {
 public:
  Msg& id(uint16_t v) {
    id_ = v;
    return *this;
  }
  Msg& flags(uint16_t v) {
    flags_ = v;
    return *this;
  }
  Msg& qr() {
    flags_ |= resolver::dns::flag::kQr;
    return *this;
  }
  Msg& rd() {
    flags_ |= resolver::dns::flag::kRd;
    return *this;
  }
  Msg& ra() {
    flags_ |= resolver::dns::flag::kRa;
    return *this;
  }
  Msg& ad() {
    flags_ |= resolver::dns::flag::kAd;
    return *this;
  }
  Msg& cd() {
    flags_ |= resolver::dns::flag::kCd;
    return *this;
  }
  Msg& tc() {
    flags_ |= resolver::dns::flag::kTc;
    return *this;
  }
  Msg& rcode(resolver::dns::Rcode r) {
    flags_ = static_cast<uint16_t>((flags_ & ~0xfu) | (static_cast<unsigned>(r) & 0xfu));
    return *this;
  }
  Msg& opcode(resolver::dns::Opcode o) {
    flags_ = static_cast<uint16_t>((flags_ & ~0x7800u) | (static_cast<unsigned>(o) << 11));
    return *this;
  }
  /// Compress owner names equal to the question name as a pointer to offset 12.
  Msg& compress(bool on = true) {
    compress_ = on;
    return *this;
  }

  Msg& question(std::string_view name, uint16_t type, uint16_t klass = 1) {
    qname_ = nameWire(name);
    Bytes q = qname_;
    put16(q, type);
    put16(q, klass);
    questions_.push_back(q);
    return *this;
  }
  Msg& answer(std::string_view name, uint16_t type, uint32_t ttl, const Bytes& rdata,
              uint16_t klass = 1) {
    answers_.push_back(rr(name, type, klass, ttl, rdata));
    return *this;
  }
  Msg& authority(std::string_view name, uint16_t type, uint32_t ttl, const Bytes& rdata) {
    authority_.push_back(rr(name, type, 1, ttl, rdata));
    return *this;
  }
  Msg& additional(std::string_view name, uint16_t type, uint32_t ttl, const Bytes& rdata) {
    additional_.push_back(rr(name, type, 1, ttl, rdata));
    return *this;
  }
  /// SOA in authority with the given RR TTL and MINIMUM field.
  Msg& soa(std::string_view zone, uint32_t ttl, uint32_t minimum) {
    Bytes rdata = nameWire("ns." + std::string(zone));
    Bytes rname = nameWire("hostmaster." + std::string(zone));
    rdata.insert(rdata.end(), rname.begin(), rname.end());
    for (uint32_t v : {1u, 7200u, 1800u, 86400u, minimum}) {
      put32(rdata, v);
    }
    authority_.push_back(rr(zone, resolver::dns::qtype::kSoa, 1, ttl, rdata));
    return *this;
  }
  Msg& edns(uint16_t udp_size = 1232, bool do_bit = false, uint8_t version = 0,
            const Bytes& options = {}) {
    Bytes o{0};
    put16(o, resolver::dns::qtype::kOpt);
    put16(o, udp_size);
    put32(o, (uint32_t{version} << 16) | (do_bit ? resolver::dns::kEdnsDoBit : 0));
    put16(o, static_cast<uint16_t>(options.size()));
    o.insert(o.end(), options.begin(), options.end());
    additional_.push_back(o);
    return *this;
  }
  /// Raw RR bytes appended to the additional section (for malformed cases).
  Msg& rawAdditional(const Bytes& b) {
    additional_.push_back(b);
    return *this;
  }
  Msg& trailing(const Bytes& b) {
    trailing_ = b;
    return *this;
  }
  /// Overrides a count in the header (qd, an, ns, ar = 0..3).
  Msg& forceCount(int which, uint16_t v) {
    forced_[which] = v;
    return *this;
  }

  Bytes wire() const {
    Bytes w;
    put16(w, id_);
    put16(w, flags_);
    const size_t counts[4] = {questions_.size(), answers_.size(), authority_.size(),
                              additional_.size()};
    for (int i = 0; i < 4; ++i) {
      put16(w,
            forced_[i] >= 0 ? static_cast<uint16_t>(forced_[i]) : static_cast<uint16_t>(counts[i]));
    }
    for (const auto* sec : {&questions_, &answers_, &authority_, &additional_}) {
      for (const auto& b : *sec) {
        w.insert(w.end(), b.begin(), b.end());
      }
    }
    w.insert(w.end(), trailing_.begin(), trailing_.end());
    return w;
  }

  /// A response skeleton for `query`: same ID, question, RD; QR and RA set.
  static Msg replyTo(std::string_view name, uint16_t type, uint16_t id = 0x1234) {
    Msg m;
    m.id(id).qr().rd().ra().question(name, type);
    return m;
  }

  static void put16(Bytes& b, uint16_t v) {
    b.push_back(static_cast<uint8_t>(v >> 8));
    b.push_back(static_cast<uint8_t>(v));
  }
  static void put32(Bytes& b, uint32_t v) {
    put16(b, static_cast<uint16_t>(v >> 16));
    put16(b, static_cast<uint16_t>(v));
  }

 private:
  Bytes rr(std::string_view name, uint16_t type, uint16_t klass, uint32_t ttl,
           const Bytes& rdata) const {
    Bytes b;
    Bytes owner = nameWire(name);
    if (compress_ && !qname_.empty() && equalsIgnoreCase(owner, qname_)) {
      b = {0xc0, 0x0c};
    } else {
      b = owner;
    }
    put16(b, type);
    put16(b, klass);
    put32(b, ttl);
    put16(b, static_cast<uint16_t>(rdata.size()));
    b.insert(b.end(), rdata.begin(), rdata.end());
    return b;
  }
  static bool equalsIgnoreCase(const Bytes& a, const Bytes& b) {
    if (a.size() != b.size()) {
      return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
      if (resolver::dns::asciiLower(a[i]) != resolver::dns::asciiLower(b[i])) {
        return false;
      }
    }
    return true;
  }

  uint16_t id_ = 0x1234;
  uint16_t flags_ = 0;
  bool compress_ = false;
  Bytes qname_;
  std::vector<Bytes> questions_, answers_, authority_, additional_;
  Bytes trailing_;
  int forced_[4] = {-1, -1, -1, -1};
};

}  // namespace nld::test
