#include "resolver/net/tcp_framing.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "resolver/net/framed_conn.h"

namespace nld::resolver::net {
namespace {

void feed(TcpFramer& f, const std::vector<uint8_t>& bytes) {
  auto space = f.prepare(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  f.commit(bytes.size());
}

TEST(TcpFramer, SplitsSeveralMessagesInOneRead) {
  TcpFramer f;
  feed(f, {0, 2, 'a', 'b', 0, 1, 'c'});
  auto m1 = f.next();
  ASSERT_TRUE(m1);
  EXPECT_EQ(std::vector<uint8_t>(m1->begin(), m1->end()), (std::vector<uint8_t>{'a', 'b'}));
  auto m2 = f.next();
  ASSERT_TRUE(m2);
  EXPECT_EQ(m2->size(), 1u);
  EXPECT_FALSE(f.next());
  EXPECT_EQ(f.buffered(), 0u);
}

TEST(TcpFramer, ReassemblesAMessageSplitAcrossReads) {
  TcpFramer f(4);
  feed(f, {0});
  EXPECT_FALSE(f.next());
  feed(f, {5, 'h', 'e'});
  EXPECT_FALSE(f.next());
  feed(f, {'l', 'l', 'o', 0});
  auto m = f.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(std::string(m->begin(), m->end()), "hello");
  EXPECT_FALSE(f.next());
  EXPECT_EQ(f.buffered(), 1u);
}

TEST(TcpFramer, ZeroLengthIsAProtocolError) {
  TcpFramer f;
  feed(f, {0, 0, 0, 1, 'x'});
  EXPECT_FALSE(f.next());
  EXPECT_TRUE(f.broken());
}

TEST(TcpFramer, LargeMessageGrowsTheBuffer) {
  TcpFramer f(16);
  std::vector<uint8_t> wire(2 + 65535, 7);
  wire[0] = 0xff;
  wire[1] = 0xff;
  for (size_t off = 0; off < wire.size(); off += 1000) {
    size_t n = std::min<size_t>(1000, wire.size() - off);
    feed(f, std::vector<uint8_t>(wire.begin() + off, wire.begin() + off + n));
  }
  auto m = f.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 65535u);
}

TEST(TcpFramer, BufferGrowsWithTheBytesReceivedNotTheAnnouncedLength) {
  TcpFramer f(0);
  feed(f, {0xff, 0xff});
  f.prepare(4096);
  EXPECT_LE(f.capacity(), 8192u) << "a 2-byte prefix must not reserve the 65,535 it announces";
  // The whole message still arrives, the capacity within twice what was buffered + one read.
  std::vector<uint8_t> chunk(4096, 7);
  size_t got = 0;
  while (got < 65535) {
    size_t n = std::min<size_t>(chunk.size(), 65535 - got);
    auto space = f.prepare(4096);
    std::memcpy(space.data(), chunk.data(), n);
    f.commit(n);
    got += n;
    EXPECT_LE(f.capacity(), 2 * (f.buffered()) + 2 * 4096);
  }
  auto m = f.next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->size(), 65535u);
}

TEST(TcpOutput, PrefixesLengthAndFlushesToASocket) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
  TcpOutput out;
  const uint8_t a[] = {1, 2, 3};
  ASSERT_TRUE(out.append(a));
  ASSERT_TRUE(out.append(a));
  EXPECT_EQ(out.pending(), 10u);
  ASSERT_TRUE(out.flush(sv[0]));
  EXPECT_TRUE(out.empty());
  uint8_t buf[16];
  ASSERT_EQ(::read(sv[1], buf, sizeof buf), 10);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(buf[1], 3);
  EXPECT_EQ(buf[5], 0);
  EXPECT_EQ(buf[6], 3);
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST(TcpOutput, RejectsOversizedMessages) {
  TcpOutput out;
  std::vector<uint8_t> big(65536);
  EXPECT_FALSE(out.append(big));
  EXPECT_TRUE(out.empty());
}

TEST(FramedConn, PausesAboveTheHighWatermarkAndResumesAtTheLow) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  int small = 4096;
  ::setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  const auto now = MonoClock::now();
  TcpBudget budget(1 << 20);
  FramedConn c(Fd(fds[0]), &budget, now);
  c.setWatermarks(8192, 2048);
  std::vector<uint8_t> msg(1000, 'a');
  while (!c.readPaused()) {
    ASSERT_TRUE(c.queue(msg, now));
    ASSERT_TRUE(c.flush(now));  // the peer does not read: output piles up
  }
  EXPECT_GT(c.pending(), 8192u);
  EXPECT_EQ(budget.used(), c.held());
  EXPECT_TRUE(c.stalled(now + std::chrono::seconds(2), std::chrono::seconds(1)));
  uint8_t buf[65536];
  while (c.pending() > 0) {
    ASSERT_GT(::recv(fds[1], buf, sizeof buf, 0), 0);
    ASSERT_TRUE(c.flush(now));
    if (c.pending() > 2048) {
      EXPECT_TRUE(c.readPaused()) << "hysteresis: still paused above the low watermark";
    }
  }
  EXPECT_FALSE(c.readPaused());
  c.close();
  EXPECT_EQ(budget.used(), 0u);
  ::close(fds[1]);
}

TEST(FramedConn, MessagesBeforeEofStayReadable) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  const auto now = MonoClock::now();
  FramedConn c(Fd(fds[0]), nullptr, now);
  const uint8_t wire[] = {0, 2, 'a', 'b', 0, 1, 'c', 0, 5, 'x'};
  ASSERT_EQ(::send(fds[1], wire, sizeof wire, 0), static_cast<ssize_t>(sizeof wire));
  ::shutdown(fds[1], SHUT_WR);
  EXPECT_EQ(c.read(now), FramedConn::Read::kData);
  EXPECT_EQ(c.read(now), FramedConn::Read::kEof);
  EXPECT_TRUE(c.eof());
  ASSERT_TRUE(c.next(now));
  ASSERT_TRUE(c.next(now));
  EXPECT_FALSE(c.next(now));
  EXPECT_TRUE(c.partial()) << "the unfinished third message";
  ::close(fds[1]);
}

}  // namespace
}  // namespace nld::resolver::net
