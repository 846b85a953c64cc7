// nld_bench_server: the resolver serving core alone, for bench/run.sh (not a test, not shipped).
// usage: nld_bench_server COREFILE [WORKERS [auto|epoll]]   — serves until SIGINT/SIGTERM;
// SIGUSR1 prints the metrics text to stdout. The third argument is run's --udp-wait.
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string_view>

#include "base/atomic_file.h"
#include "resolver/config/config.h"
#include "resolver/resolver.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s COREFILE [WORKERS [auto|epoll]]\n", argv[0]);
    return 2;
  }
  auto text = nld::readFile(argv[1]);
  if (!text) {
    std::fprintf(stderr, "%s\n", text.error().message().c_str());
    return 1;
  }
  auto cfg = nld::resolver::config::parseCorefile(*text, argv[1]);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message().c_str());
    return 1;
  }
  nld::resolver::ServerOptions opts;
  if (argc > 2) {
    opts.workers = static_cast<unsigned>(std::atoi(argv[2]));
  }
  // As run: --udp-wait auto unless "epoll" is given.
  const bool epoll = argc > 3 && std::string_view(argv[3]) == "epoll";
  opts.udp_wait = epoll ? nld::resolver::UdpWait::kEpoll : nld::resolver::UdpWait::kAuto;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // workers inherit the mask
  auto server = nld::resolver::Server::create(std::move(*cfg), opts);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message().c_str());
    return 1;
  }
  (*server)->start();
  std::fprintf(stderr, "serving\n");
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig == SIGUSR1) {
      std::cout << (*server)->renderMetrics() << std::flush;
      continue;
    }
    break;
  }
  (*server)->stop(std::chrono::milliseconds(1000));
  return 0;
}
