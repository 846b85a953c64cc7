// Like bench/udp_reflector.c, but waiting the way an event-loop server does: epoll_wait, then
// recvmmsg(MSG_DONTWAIT) batches of 32 until one comes back short, sendmmsg each batch. The floor
// for an epoll design (see RESULTS.md). Env RCVBUF=bytes and REUSEPORT=1 copy our socket options.
// usage: gcc -O2 -o epoll_reflector bench/epoll_reflector.c && taskset -c 1 ./epoll_reflector 5398
//        bench/cpu_per_query.sh $(pgrep -x epoll_reflector) 5398 /tmp/nld-bench/hits.txt 100000 5
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
enum { B = 32 };
int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 5398;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (getenv("RCVBUF")) { int sz = atoi(getenv("RCVBUF")); setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz); }
  if (getenv("REUSEPORT")) { int one = 1; setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one); }
  if (bind(fd, (struct sockaddr *)&a, sizeof a)) return 1;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd}, out[8];
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  static char buf[B][512]; static struct sockaddr_in peer[B];
  static struct iovec iov[B]; static struct mmsghdr m[B];
  for (;;) {
    if (epoll_wait(ep, out, 8, argc > 2 ? atoi(argv[2]) : -1) <= 0) continue;
    for (;;) {
      for (int i = 0; i < B; i++) {
        iov[i] = (struct iovec){buf[i], sizeof buf[i]};
        m[i].msg_hdr = (struct msghdr){.msg_name = &peer[i], .msg_namelen = sizeof peer[i], .msg_iov = &iov[i], .msg_iovlen = 1};
      }
      int n = recvmmsg(fd, m, B, MSG_DONTWAIT, NULL);
      if (n <= 0) break;
      for (int i = 0; i < n; i++) { buf[i][2] |= 0x80; iov[i].iov_len = m[i].msg_len; }
      sendmmsg(fd, m, n, MSG_DONTWAIT);
      if (n < B) break;
    }
  }
}
