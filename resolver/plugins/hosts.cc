#include "resolver/plugins/hosts.h"

#include <sys/stat.h>

#include <cstring>
#include <new>

#include "base/atomic_file.h"
#include "base/ip.h"
#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/types.h"

namespace nld::resolver::plugins {
namespace {

bool under(const std::vector<std::vector<uint8_t>>& zones, const uint8_t* name,
           size_t length) noexcept {
  return longestZone(zones, name, length) >= 0;
}

/// The reverse name of a 4- or 16-byte address (Go: an IPv4-mapped address is IPv4).
std::string reverseName(const uint8_t* b, bool v4) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  if (v4) {
    for (int i = 3; i >= 0; --i) {
      text += std::to_string(b[i]) + ".";
    }
    text += "in-addr.arpa.";
  } else {
    for (int i = 15; i >= 0; --i) {
      text += kHex[b[i] & 0xf];
      text += '.';
      text += kHex[b[i] >> 4];
      text += '.';
    }
    text += "ip6.arpa.";
  }
  auto w = dns::lowerNameFromText(text);
  return std::string(w.begin(), w.end());
}

std::string_view trimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  return s;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  for (;;) {
    line = trimSpace(line);
    if (line.empty()) {
      return out;
    }
    size_t end = line.find_first_of(" \t\r\v\f");
    out.push_back(line.substr(0, end));
    if (end == std::string_view::npos) {
      return out;
    }
    line.remove_prefix(end);
  }
}

/// Appends one RR owned by the question's name (pointer to offset 12). 0 = does not fit.
size_t appendRr(std::span<uint8_t> out, size_t len, uint16_t type, uint32_t ttl,
                const uint8_t* rdata, size_t rdlength) noexcept {
  if (len + 12 + rdlength > out.size() || rdlength > 0xffff) {
    return 0;
  }
  uint8_t* p = out.data() + len;
  dns::writeU16(p, 0xc000 | dns::kHeaderSize);
  dns::writeU16(p + 2, type);
  dns::writeU16(p + 4, dns::qclass::kIn);
  dns::writeU32(p + 6, ttl);
  dns::writeU16(p + 10, static_cast<uint16_t>(rdlength));
  std::memcpy(p + 12, rdata, rdlength);
  dns::writeU16(out.data() + 6, static_cast<uint16_t>(dns::readU16(out.data() + 6) + 1));
  return len + 12 + rdlength;
}

template <typename Map>
const typename Map::mapped_type* find(const Map& m, std::string_view key) noexcept {
  auto it = m.find(key);
  return it == m.end() ? nullptr : &it->second;
}

}  // namespace

HostsTable HostsTable::parse(std::string_view text, const std::vector<std::vector<uint8_t>>& zones,
                             bool reverse) {
  HostsTable t;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    auto f = fields(line);
    if (f.size() < 2) {
      continue;
    }
    std::string_view addr_text = f[0];
    if (size_t pct = addr_text.find('%'); pct != std::string_view::npos) {
      addr_text = addr_text.substr(0, pct);  // IPv6 zone, discarded as CoreDNS does
    }
    auto addr = IpAddress::parse(addr_text);
    if (!addr) {
      continue;
    }
    const uint8_t* b = addr->bytes();
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    const bool mapped = !addr->isV4() && std::memcmp(b, kMapped, 12) == 0;
    std::array<uint8_t, 4> a4{};
    std::array<uint8_t, 16> a6{};
    if (addr->isV4() || mapped) {  // Go: To4() != nil
      std::memcpy(a4.data(), mapped ? b + 12 : b, 4);
    } else {
      std::memcpy(a6.data(), b, 16);
    }
    std::string rev;
    if (reverse) {
      rev = addr->isV4() || mapped ? reverseName(a4.data(), true) : reverseName(a6.data(), false);
    }
    for (size_t i = 1; i < f.size(); ++i) {
      auto w = dns::lowerNameFromText(f[i]);
      if (w.empty() || !under(zones, w.data(), w.size())) {
        continue;
      }
      std::string key(w.begin(), w.end());
      if (addr->isV4() || mapped) {
        t.v4[key].push_back(a4);
      } else {
        t.v6[key].push_back(a6);
      }
      ++t.entries;
      if (reverse) {
        t.ptr[rev].push_back(key);
        ++t.entries;
      }
    }
  }
  return t;
}

Hosts::Hosts(const config::HostsConfig& config)
    : config_(config),
      zones_(wireZones(config.zones)),
      fall_zones_(wireZones(config.fallthrough.zones)) {
  std::string joined;
  for (const auto& l : config.inline_lines) {
    joined += l + "\n";
  }
  inline_ = HostsTable::parse(joined, zones_, config.reverse);
  file_.store(std::make_shared<const HostsTable>());
}

std::shared_ptr<Hosts> Hosts::create(const config::HostsConfig& config, std::string* note) {
  std::shared_ptr<Hosts> h(new Hosts(config));
  if (!h->reload() && note != nullptr) {
    *note = "hosts: file '" + config.path + "' cannot be read, serving inline entries only";
  }
  return h;
}

size_t Hosts::entries() const noexcept { return inline_.entries + file_.load()->entries; }

bool Hosts::reload() noexcept {
  struct stat st {};
  if (::stat(config_.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return false;  // CoreDNS: keep the last entries (a deleted file is served until restored)
  }
  const int64_t mtime = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
  if (mtime == mtime_ns_ && int64_t{st.st_size} == size_) {
    return true;
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxHostsFileBytes) {
    return false;
  }
  try {
    auto text = readFile(config_.path);
    if (!text || text->size() > kMaxHostsFileBytes) {
      return false;
    }
    file_.store(
        std::make_shared<const HostsTable>(HostsTable::parse(*text, zones_, config_.reverse)));
    mtime_ns_ = mtime;
    size_ = st.st_size;
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

void Hosts::maybeReload(TimePoint now) noexcept {
  if (config_.reload.count() == 0) {
    return;
  }
  const int64_t t =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  const int64_t interval = std::chrono::nanoseconds(config_.reload).count();
  int64_t due = next_check_ns_.load(std::memory_order_relaxed);
  if (due == kUnset) {
    next_check_ns_.compare_exchange_strong(due, t + interval, std::memory_order_relaxed);
    return;
  }
  if (t < due) {
    return;
  }
  std::unique_lock<std::mutex> lock(reload_mu_, std::try_to_lock);
  if (!lock.owns_lock() || t < next_check_ns_.load(std::memory_order_relaxed)) {
    return;
  }
  next_check_ns_.store(t + interval, std::memory_order_relaxed);
  reload();
}

Outcome Hosts::serve(const dns::Query& q, std::span<const uint8_t> wire, const uint8_t* name,
                     size_t length, std::span<uint8_t> out, TimePoint now) noexcept {
  maybeReload(now);
  const bool in_zone = under(zones_, name, length);
  if (!in_zone && q.qtype != dns::qtype::kPtr) {
    return Outcome::next();
  }
  std::shared_ptr<const HostsTable> file = file_.load();
  const HostsTable* tables[2] = {file.get(), &inline_};
  const std::string_view key(reinterpret_cast<const char*>(name), length);
  auto exists = [&] {
    for (const HostsTable* t : tables) {
      if (find(t->v4, key) != nullptr || find(t->v6, key) != nullptr) {
        return true;
      }
    }
    return false;
  };
  size_t len = 0;
  size_t answers = 0;
  bool full = false;
  // Appends one RR per item of `list` (null = none); false when even the header does not fit.
  auto add = [&](const auto* list) {
    if (list == nullptr) {
      return true;
    }
    for (const auto& rdata : *list) {
      if (len == 0 && (len = writeAnswerHead(q, wire, 0, out)) == 0) {
        return false;
      }
      size_t n = appendRr(out, len, q.qtype, config_.ttl,
                          reinterpret_cast<const uint8_t*>(rdata.data()), rdata.size());
      full = full || n == 0;
      len = n != 0 ? n : len;
      ++answers;
    }
    return true;
  };
  for (const HostsTable* t : tables) {
    bool ok = q.qtype == dns::qtype::kPtr    ? add(find(t->ptr, key))
              : q.qtype == dns::qtype::kA    ? add(find(t->v4, key))
              : q.qtype == dns::qtype::kAaaa ? add(find(t->v6, key))
                                             : true;
    if (!ok) {
      return Outcome::servFail();
    }
  }
  if (q.qtype == dns::qtype::kPtr && answers == 0) {
    return Outcome::next();  // CoreDNS: whatever `fallthrough` says
  }
  if (answers == 0 && !exists()) {
    if (config_.fallthrough.enabled && under(fall_zones_, name, length)) {
      return Outcome::next();
    }
    return Outcome::servFail();
  }
  if ((len == 0 && (len = writeAnswerHead(q, wire, 0, out)) == 0) || full) {
    return Outcome::servFail();  // more than 64 KiB of entries for one name
  }
  if (q.edns) {
    len = dns::appendOpt(out, len, q.doBit());
    if (len == 0) {
      return Outcome::servFail();
    }
  }
  return Outcome::answer(len);
}

}  // namespace nld::resolver::plugins
