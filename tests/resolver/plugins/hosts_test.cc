#include "resolver/plugins/hosts.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <string>

#include "resolver/dns/builder.h"
#include "resolver/dns/message.h"
#include "resolver/dns/name.h"
#include "resolver/dns/types.h"

namespace nld::resolver::plugins {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nld-hosts-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void write(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

struct Answer {
  Outcome::Kind kind = Outcome::Kind::kNext;
  unsigned rcode = 0;
  unsigned ancount = 0;
  std::string first_rdata;  ///< A/AAAA: the address bytes of the first answer
};

Answer ask(Hosts& h, const std::string& name, uint16_t qtype, Clock::time_point now) {
  std::array<uint8_t, 512> q{};
  size_t n = dns::buildQuery(7, dns::flag::kRd, name, qtype, dns::qclass::kIn, q);
  auto parsed = dns::parseQuery(std::span<const uint8_t>(q.data(), n));
  EXPECT_TRUE(parsed);
  auto lower = dns::lowerNameFromText(name);
  std::array<uint8_t, 4096> out{};
  Outcome o =
      h.serve(*parsed, std::span<const uint8_t>(q.data(), n), lower.data(), lower.size(), out, now);
  Answer a;
  a.kind = o.kind;
  if (o.kind == Outcome::Kind::kAnswer) {
    std::span<const uint8_t> m(out.data(), o.length);
    a.rcode = static_cast<unsigned>(dns::headerRcode(m));
    a.ancount = dns::headerCount(m, 6);
    if (a.ancount > 0) {
      size_t rr = parsed->question_end;  // owner is a 2-byte pointer
      uint16_t rdlen = dns::readU16(out.data() + rr + 10);
      a.first_rdata.assign(reinterpret_cast<const char*>(out.data() + rr + 12), rdlen);
    }
  }
  return a;
}

std::string v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c),
                     static_cast<char>(d)};
}

config::HostsConfig fileConfig(const std::string& path) {
  config::HostsConfig c;
  c.path = path;
  c.zones = {"."};
  return c;
}

TEST(Hosts, FileIsReReadOnTheReloadIntervalWhenItChanges) {
  TempDir dir;
  const std::string path = dir.path() + "/hosts";
  write(path, "10.0.0.1 a.example\n");
  auto h = Hosts::create(fileConfig(path));
  const auto t0 = Clock::time_point() + seconds(1000);
  EXPECT_EQ(ask(*h, "a.example", dns::qtype::kA, t0).first_rdata, v4(10, 0, 0, 1));

  write(path, "10.0.0.22 a.example\n10.0.0.3 b.example\n");
  // Not due yet: the first query started the 5 s interval.
  EXPECT_EQ(ask(*h, "a.example", dns::qtype::kA, t0 + seconds(4)).first_rdata, v4(10, 0, 0, 1));
  EXPECT_EQ(ask(*h, "a.example", dns::qtype::kA, t0 + seconds(5)).first_rdata, v4(10, 0, 0, 22));
  EXPECT_EQ(ask(*h, "b.example", dns::qtype::kA, t0 + seconds(5)).ancount, 1u);
  EXPECT_EQ(h->entries(), 4u);  // two names, two PTR entries

  // A deleted file keeps its last entries (CoreDNS: served until it is restored).
  ::unlink(path.c_str());
  EXPECT_EQ(ask(*h, "b.example", dns::qtype::kA, t0 + seconds(11)).ancount, 1u);
  write(path, "10.0.0.4 c.example\n");
  EXPECT_EQ(ask(*h, "b.example", dns::qtype::kA, t0 + seconds(17)).kind, Outcome::Kind::kServFail);
  EXPECT_EQ(ask(*h, "c.example", dns::qtype::kA, t0 + seconds(17)).ancount, 1u);
}

TEST(Hosts, ReloadZeroNeverReReads) {
  TempDir dir;
  const std::string path = dir.path() + "/hosts";
  write(path, "10.0.0.1 a.example\n");
  auto c = fileConfig(path);
  c.reload = std::chrono::milliseconds(0);
  auto h = Hosts::create(c);
  const auto t0 = Clock::time_point() + seconds(1000);
  EXPECT_EQ(ask(*h, "a.example", dns::qtype::kA, t0).ancount, 1u);
  write(path, "10.0.0.9 other.example\n");
  EXPECT_EQ(ask(*h, "a.example", dns::qtype::kA, t0 + seconds(3600)).ancount, 1u);
}

TEST(Hosts, MissingFileServesInlineEntriesAndSaysSo) {
  auto c = fileConfig("/nonexistent/nld-hosts");
  c.inline_lines = {"192.0.2.1 inline.example", "not-an-ip x.example", "10.0.0.1"};
  std::string note;
  auto h = Hosts::create(c, &note);
  EXPECT_NE(note.find("/nonexistent/nld-hosts"), std::string::npos);
  const auto t0 = Clock::time_point();
  EXPECT_EQ(ask(*h, "INLINE.example", dns::qtype::kA, t0).first_rdata, v4(192, 0, 2, 1));
  EXPECT_EQ(ask(*h, "x.example", dns::qtype::kA, t0).kind, Outcome::Kind::kServFail);
  EXPECT_EQ(h->entries(), 2u);
}

TEST(Hosts, FileEntriesComeBeforeInlineOnes) {
  TempDir dir;
  const std::string path = dir.path() + "/hosts";
  write(path, "10.0.0.1 a.example\n");
  auto c = fileConfig(path);
  c.inline_lines = {"10.0.0.2 a.example"};
  auto h = Hosts::create(c);
  auto a = ask(*h, "a.example", dns::qtype::kA, Clock::time_point());
  EXPECT_EQ(a.ancount, 2u);
  EXPECT_EQ(a.first_rdata, v4(10, 0, 0, 1));
}

TEST(Hosts, TooLargeFileIsNotRead) {
  TempDir dir;
  const std::string path = dir.path() + "/hosts";
  {
    std::ofstream f(path);
    f << "10.0.0.1 a.example\n";
    f << std::string(kMaxHostsFileBytes, '#');
  }
  std::string note;
  auto h = Hosts::create(fileConfig(path), &note);
  EXPECT_FALSE(note.empty());
  EXPECT_EQ(ask(*h, "a.example", dns::qtype::kA, Clock::time_point()).kind,
            Outcome::Kind::kServFail);
}

}  // namespace
}  // namespace nld::resolver::plugins
