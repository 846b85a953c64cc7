// libFuzzer target for DNS-over-TCP framing, both directions of FramedConn (the type client and
// upstream connections share). The input's first byte picks the read chunking; the rest is the
// byte stream a peer sends, written into a socketpair in chunks and read back through
// FramedConn::read()/next(). Invariants (abort when one breaks):
//  - the messages equal those of a plain reference parser of the stream, and broken() is set
//    exactly when the reference meets a zero length before the stream ends;
//  - the input buffer holds at most one partial message plus two reads;
//  - the peer's FIN reads as kEof, and every message that arrived before it stays readable;
//  - every message queued on another FramedConn and flushed comes out framed the same, the
//    high/low watermarks pause and resume, and all bytes are returned to the TcpBudget;
//  - upstream side: each message goes through the response checks the forwarder applies
//    (inspectResponse, sameQuestion) without reading out of bounds.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include "resolver/dns/message.h"
#include "resolver/dns/rr_walk.h"
#include "resolver/net/framed_conn.h"

namespace {

using namespace nld::resolver;

void checkFailed(const char* what, int line) {
  std::fprintf(stderr, "fuzz_tcp_framing.cc:%d: invariant failed: %s\n", line, what);
  std::abort();
}
#define check(cond)                 \
  do {                              \
    if (!(cond)) {                  \
      checkFailed(#cond, __LINE__); \
    }                               \
  } while (0)

using Messages = std::vector<std::vector<uint8_t>>;

/// The reference: length-prefixed messages until a zero length (broken) or the end.
Messages reference(std::span<const uint8_t> s, bool& broken) {
  Messages out;
  broken = false;
  size_t pos = 0;
  while (s.size() - pos >= 2) {
    size_t len = (size_t{s[pos]} << 8) | s[pos + 1];
    if (len == 0) {
      broken = true;
      break;
    }
    if (s.size() - pos - 2 < len) {
      break;
    }
    out.emplace_back(s.begin() + static_cast<long>(pos + 2),
                     s.begin() + static_cast<long>(pos + 2 + len));
    pos += 2 + len;
  }
  return out;
}

bool socketPair(int fds[2]) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
    return false;
  }
  return true;
}

// A query whose question the upstream answers are compared with (as Forwarder::accept does).
const uint8_t kQuery[] = {0x12, 0x34, 1,   0,   0,   1, 0,   0,   0,   0, 0, 0, 7, 'e', 'x',
                          'a',  'm',  'p', 'l', 'e', 3, 'o', 'r', 'g', 0, 0, 1, 0, 1};

void upstreamChecks(std::span<const uint8_t> msg) {
  if (msg.size() < 2) {
    return;
  }
  (void)nld::resolver::dns::readU16(msg.data());  // the ID lookup
  auto info = dns::inspectResponse(msg);
  if (info) {
    check(info->end == msg.size());
    check(info->question_end <= info->end);
    (void)dns::sameQuestion(std::span<const uint8_t>(kQuery, sizeof kQuery), msg);
  }
}

void fuzzInput(uint8_t mode, std::span<const uint8_t> stream) {
  bool ref_broken = false;
  const Messages want = reference(stream, ref_broken);
  int fds[2];
  if (!socketPair(fds)) {
    return;
  }
  const auto now = net::MonoClock::now();
  net::TcpBudget budget(size_t{1} << 30);
  Messages got;
  bool broken = false;
  {
    net::FramedConn conn(nld::Fd(fds[0]), &budget, now);
    const size_t chunk = size_t{1} + (mode & 0x3f) * ((mode & 0x40) ? 97 : 3);
    size_t off = 0;
    bool eof = false;
    auto drain = [&] {
      for (;;) {
        auto r = conn.read(now);
        if (r == net::FramedConn::Read::kEof) {
          eof = true;
        }
        if (r != net::FramedConn::Read::kData) {
          break;
        }
        while (auto m = conn.next(now)) {
          got.emplace_back(m->begin(), m->end());
          upstreamChecks(*m);
        }
        if (conn.broken()) {
          broken = true;
          return;
        }
        check(!conn.hasMessage());
        // At most one incomplete message (≤ 65537 bytes) and the slack of two reads.
        check(conn.held() <= 65537 + 2 * 4096);
        check(budget.used() == conn.held());
      }
    };
    while (off < stream.size() && !broken) {
      size_t n = std::min(chunk, stream.size() - off);
      ssize_t w = ::send(fds[1], stream.data() + off, n, MSG_NOSIGNAL);
      if (w <= 0) {
        break;
      }
      off += static_cast<size_t>(w);
      drain();
    }
    if (!broken) {
      ::shutdown(fds[1], SHUT_WR);
      drain();
      if (!broken) {
        check(eof && conn.eof());
        check(!conn.hasMessage());
        check(conn.read(now) == net::FramedConn::Read::kEof);
      }
    }
    check(broken == ref_broken);
    if (broken) {
      check(got.size() <= want.size());
      for (size_t i = 0; i < got.size(); ++i) {
        check(got[i] == want[i]);
      }
    } else {
      check(got == want);
    }
    conn.close();
    check(budget.used() == 0);
  }
  ::close(fds[1]);

  // Output: queue what came in on another connection, flush, read it back.
  if (!socketPair(fds)) {
    return;
  }
  {
    net::FramedConn out(nld::Fd(fds[0]), &budget, now);
    const size_t high = 512 + size_t{mode} * 16;
    out.setWatermarks(high, high / 4);
    std::vector<uint8_t> wire;
    size_t queued = 0;
    for (const auto& m : got) {
      check(out.queue(m, now));
      queued += 2 + m.size();
      if (out.pending() > high) {
        check(out.readPaused());
      }
      check(out.flush(now));
      uint8_t buf[65536];
      for (;;) {
        ssize_t r = ::recv(fds[1], buf, sizeof buf, MSG_DONTWAIT);
        if (r <= 0) {
          break;
        }
        wire.insert(wire.end(), buf, buf + r);
      }
      check(out.flush(now));
      if (out.pending() <= high / 4) {
        check(!out.readPaused());
      }
    }
    for (int i = 0; i < 64 && wire.size() < queued; ++i) {
      check(out.flush(now));
      uint8_t buf[65536];
      ssize_t r = ::recv(fds[1], buf, sizeof buf, MSG_DONTWAIT);
      if (r > 0) {
        wire.insert(wire.end(), buf, buf + r);
      }
    }
    check(wire.size() == queued);
    bool round_broken = false;
    check(reference(wire, round_broken) == got);
    check(!round_broken);
    check(out.pending() == 0 && !out.readPaused());
    check(!out.stalled(now + std::chrono::hours(1), std::chrono::milliseconds(1)));
  }
  check(budget.used() == 0);
  ::close(fds[1]);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 200000) {
    return 0;
  }
  fuzzInput(data[0], std::span<const uint8_t>(data + 1, size - 1));
  return 0;
}
