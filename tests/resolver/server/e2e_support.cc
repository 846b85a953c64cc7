#include "tests/resolver/server/e2e_support.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "resolver/config/config.h"

namespace nld::test {

namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string clusterZone() {
  std::ostringstream z;
  z << "$ORIGIN cluster.local.\n$TTL 30\n"
       "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n"
       "@ IN NS ns.dns.cluster.local.\n"
       "ns.dns IN A 10.96.0.10\n"
       "svc1.default.svc IN A 10.96.0.11\n"
       "svc1.default.svc IN AAAA fd00::11\n"
       "_http._tcp.svc1.default.svc IN SRV 0 100 80 svc1.default.svc.cluster.local.\n"
       "alias.default.svc IN CNAME svc1.default.svc.cluster.local.\n"
       "short.default.svc 1 IN A 10.96.0.12\n";
  for (int i = 2; i <= 50; ++i) {
    z << "svc" << i << ".default.svc IN A 10.96.1." << i << "\n";
  }
  z << "big.default.svc IN TXT";
  for (int i = 0; i < 12; ++i) {
    z << " \"" << std::string(100, 'x') << "\"";
  }
  z << "\n";
  return z.str();
}

std::string reverseZone() {
  return "$ORIGIN 10.in-addr.arpa.\n$TTL 30\n"
         "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n"
         "@ IN NS ns.dns.cluster.local.\n"
         "11.0.96 IN PTR svc1.default.svc.cluster.local.\n";
}

}  // namespace

Nsd::Nsd(const TempDir& dir) : dir_(dir.path()) {
  write(dir.file("cluster.local.zone"), clusterZone());
  write(dir.file("10.in-addr.arpa.zone"), reverseZone());
  write(dir.file("nsd.conf"),
        "server:\n  ip-address: 127.0.0.2@5300\n  port: 5300\n  username: \"\"\n  chroot: \"\"\n"
        "  zonesdir: \"" +
            dir_ + "\"\n  database: \"\"\n  pidfile: \"" + dir_ +
            "/nsd.pid\"\n"
            "  xfrdfile: \"" +
            dir_ + "/xfrd.state\"\n  zonelistfile: \"" + dir_ +
            "/zone.list\"\n"
            "  server-count: 1\n  verbosity: 1\n  logfile: \"" +
            dir_ +
            "/nsd.log\"\n"
            "remote-control:\n  control-enable: no\n"
            "zone:\n  name: cluster.local\n  zonefile: cluster.local.zone\n"
            "zone:\n  name: 10.in-addr.arpa\n  zonefile: 10.in-addr.arpa.zone\n");
  auto r = run("nsd -c " + dir.file("nsd.conf"));
  if (r.exit_code != 0) {
    error_ = "nsd did not start: " + r.out;
    return;
  }
  running_ = true;
  for (int i = 0; i < 100; ++i) {
    auto d = run("dig +short +tries=1 +time=1 @127.0.0.2 -p 5300 ns.dns.cluster.local A");
    if (d.out.find("10.96.0.10") != std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  error_ = "nsd does not answer: " + run("cat " + dir.file("nsd.log")).out;
}

void Nsd::stop() {
  if (!running_) {
    return;
  }
  running_ = false;
  std::ifstream f(dir_ + "/nsd.pid");
  int pid = 0;
  if (f >> pid && pid > 0) {
    ::kill(pid, SIGKILL);
  }
  // nsd's children exit when the parent dies; wait until the port is quiet.
  for (int i = 0; i < 100; ++i) {
    auto d = run("dig +short +tries=1 +time=1 @127.0.0.2 -p 5300 ns.dns.cluster.local A");
    if (d.out.find("10.96.0.10") == std::string::npos) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Nsd::~Nsd() { stop(); }

std::unique_ptr<resolver::Server> startServer(const std::string& corefile, unsigned workers,
                                              resolver::ServerOptions opts) {
  auto cfg = resolver::config::parseCorefile(corefile, "Corefile");
  if (!cfg) {
    ADD_FAILURE() << cfg.error().message();
    return nullptr;
  }
  opts.workers = workers;
  opts.pin_workers = false;
  auto server = resolver::Server::create(std::move(*cfg), opts);
  if (!server) {
    ADD_FAILURE() << server.error().message();
    return nullptr;
  }
  (*server)->start();
  return std::move(*server);
}

std::string status(const CommandResult& r) {
  auto pos = r.out.find("status: ");
  if (pos == std::string::npos) {
    return "<none>";
  }
  pos += 8;
  auto end = r.out.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ", pos);
  return r.out.substr(pos, end - pos);
}

std::vector<uint8_t> wireQuery(uint16_t id, const std::string& name, uint16_t qtype, bool edns_do) {
  std::vector<uint8_t> q = {
      static_cast<uint8_t>(id >> 8),        static_cast<uint8_t>(id), 1, 0, 0, 1, 0, 0, 0, 0, 0,
      static_cast<uint8_t>(edns_do ? 1 : 0)};
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) {
      dot = name.size();
    }
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.insert(q.end(), {0, static_cast<uint8_t>(qtype >> 8), static_cast<uint8_t>(qtype), 0, 1});
  if (edns_do) {
    q.insert(q.end(), {0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0});  // OPT 1232, DO
  }
  return q;
}

CommandResult dig(const std::string& args) {
  return run("dig @127.0.0.1 -p 53 +tries=1 +time=8 " + args);
}

std::string defaultCorefile(const std::string& extra_cache_lines) {
  return "cluster.local:53 {\n"
         "    errors\n"
         "    cache {\n"
         "            success 9984 30\n"
         "            denial 9984 5\n" +
         extra_cache_lines +
         "    }\n"
         "    bind 127.0.0.1\n"
         "    forward . 127.0.0.2:5300 {\n"
         "            force_tcp\n"
         "    }\n"
         "}\n"
         "in-addr.arpa:53 {\n"
         "    cache 30\n"
         "    bind 127.0.0.1\n"
         "    forward . 127.0.0.2:5300 {\n"
         "            force_tcp\n"
         "    }\n"
         "}\n"
         ".:53 {\n"
         "    cache 30\n"
         "    bind 127.0.0.1\n"
         "    forward . 127.0.0.2:5300\n"
         "}\n";
}

}  // namespace nld::test
