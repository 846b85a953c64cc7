// install → status → teardown, stop, revert-kubelet through the real binary, each TEST in its own
// network namespace. The namespace must look exactly as before afterwards: links, addresses and
// the raw/filter tables of both families (iptables-legacy-save without comments and counters).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "base/atomic_file.h"
#include "base/fd.h"
#include "base/proc.h"
#include "tests/support/netns.h"

namespace nld {
namespace {

const char* kKubeDns = "10.96.0.10";
const char* kUpstream = "10.96.0.11";  // kube-dns-upstream stand-in: nsd on this address
// The test hook that shortens the xtables lock wait (cli/node/ops.cc) for the held-lock tests.
const char* kShortLockWait = "NLD_TEST_HOOKS=1 NLD_TEST_LOCK_TIMEOUT_MS=300";

// kubeadm's KubeletConfiguration shape with comments, CRLF line ends and a quoted value.
const std::string kKubeletConfig =
    "apiVersion: kubelet.config.k8s.io/v1beta1\r\n"
    "authentication:\r\n"
    "  anonymous:\r\n"
    "    enabled: false\r\n"
    "cgroupDriver: systemd\r\n"
    "# set by kubeadm\r\n"
    "clusterDNS:\r\n"
    "- \"10.96.0.10\"   # kube-dns\r\n"
    "clusterDomain: cluster.local\r\n"
    "kind: KubeletConfiguration\r\n";

std::string snapshot() {
  return test::run(
             // Volatile: bridge timers, IPv6 DAD state of the link-local address.
             "ip -d link | sed -E 's/[a-z_]+_timer +[0-9.]+//g'; "
             "ip -j addr | sed -E 's/\"(tentative|optimistic)\":true,//g'; "
             "for t in raw filter; do iptables-legacy-save -t $t; ip6tables-legacy-save -t $t; "
             "done | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'")
      .out;
}

// Legacy tables appear in a namespace when first used; use them before the "before" snapshot so
// the comparison is about rules, not table instantiation.
void touchTables() {
  test::run(
      "for t in raw filter; do iptables-legacy -t $t -S; ip6tables-legacy -t $t -S; "
      "done >/dev/null");
}

// Running, not a zombie: a daemon install started outlives install and is reaped by whoever
// inherits it, maybe not at once.
bool alive(pid_t pid) {
  if (::kill(pid, 0) != 0) {
    return false;
  }
  auto stat = readProcStat(pid);
  return stat && stat->state != 'Z';
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

class Node {
 public:
  /// stand_in: start tests/cli/node/fake_run.sh (dnsmasq) instead of the real `run`.
  explicit Node(bool stand_in = false) : bin_(NLD_TEST_BINARY), stand_in_(stand_in) {}
  ~Node() {
    // Never leave a daemon behind (it would keep the namespace alive).
    test::run("[ -f " + dir_.file("pid") + " ] && kill -9 $(cat " + dir_.file("pid") + ")");
    killStandInChild();
    test::run("[ -f " + dir_.file("nsd.pid") + " ] && kill $(cat " + dir_.file("nsd.pid") + ")");
  }
  const test::TempDir& dir() const { return dir_; }
  std::string paths() const {
    return " --state-file " + dir_.file("state/state") + " --pidfile " + dir_.file("pid") +
           " --xtables-lock " + dir_.file("xtables.lock");
  }
  std::string installFlags(int wait_seconds = 20, const std::string& upstream = kUpstream) const {
    return paths() + " --config-dir " + dir_.file("etc") + " --run-dir " + dir_.file("run") +
           " --log-file " + dir_.file("daemon.log") + " --kubelet-config " +
           dir_.file("kubelet.yaml") + " --kubelet-extra-args " + dir_.file("kubelet.env") +
           " --upstream-servers " + upstream + " --wait " + std::to_string(wait_seconds) +
           daemonFlag();
  }
  test::CommandResult nld(const std::string& args) const { return test::run(bin_ + " " + args); }
  /// The common install: iptables mode, kube-dns 10.96.0.10, the cluster zone to kUpstream.
  test::CommandResult installIptables(int wait_seconds = 20) const {
    return nld(installIptablesArgs(wait_seconds));
  }
  /// `status` on this node; expects `exit_code` (0 healthy, 1 not) and returns the result.
  test::CommandResult expectStatus(int exit_code) const {
    auto st = nld("status" + paths());
    EXPECT_EQ(st.exit_code, exit_code) << st.out;
    return st;
  }
  std::string installIptablesArgs(int wait_seconds = 20) const {
    return "install --mode iptables --kube-dns 10.96.0.10 --cluster-upstream " +
           std::string(kUpstream) + installFlags(wait_seconds);
  }
  /// With environment assignments first, e.g. "PATH=/x:$PATH".
  test::CommandResult nldWith(const std::string& env, const std::string& args) const {
    return test::run(env + " " + bin_ + " " + args);
  }
  std::string daemonFlag() const {
    return stand_in_ ? " --daemon-exe " + test::sourcePath("tests/cli/node/fake_run.sh") : "";
  }
  // The stand-in is two processes (sh + dnsmasq); after kill -9 of the first, end the second too,
  // as the real daemon is one process.
  void killStandInChild() const {
    test::run("[ -f " + dir_.file("pid.child") + " ] && kill -9 $(cat " + dir_.file("pid.child") +
              ") && rm -f " + dir_.file("pid.child"));
  }
  bool hasRun() const { return contains(nld("--help").out, "\n  run "); }

  // nsd serving cluster.local on kUpstream:53 (kube-dns-upstream stand-in).
  /// nsd serving cluster.local on each of `addresses` port 53, added to lo first (the kube-dns
  /// stand-in; ipvs mode forwards to the kube-dns IP itself, so it goes there too then).
  bool startNsd(const std::vector<std::string>& addresses = {kUpstream}) const {
    std::string zone =
        "$ORIGIN cluster.local.\n$TTL 30\n"
        "@ IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5\n"
        "@ IN NS ns.dns.cluster.local.\nns.dns IN A 10.96.0.10\n"
        "svc1.default.svc IN A 10.96.7.7\n";
    std::string conf = "server:\n";
    for (const std::string& a : addresses) {
      conf += "  ip-address: " + a + "\n";
      bool v6 = a.find(':') != std::string::npos;
      if (test::run("ip addr add " + a + (v6 ? "/128 dev lo nodad" : "/32 dev lo")).exit_code !=
          0) {
        return false;
      }
    }
    conf += "  port: 53\n  username: \"\"\n  chroot: \"\"\n  zonesdir: \"" + dir_.path() +
            "\"\n  database: \"\"\n  pidfile: \"" + dir_.file("nsd.pid") + "\"\n  xfrdfile: \"" +
            dir_.file("xfrd.state") + "\"\n  zonelistfile: \"" + dir_.file("zone.list") +
            "\"\n  server-count: 1\n  logfile: \"" + dir_.file("nsd.log") +
            "\"\nremote-control:\n  control-enable: no\nzone:\n  name: cluster.local\n"
            "  zonefile: cluster.local.zone\n";
    if (!writeFileAtomic(dir_.file("cluster.local.zone"), zone) ||
        !writeFileAtomic(dir_.file("nsd.conf"), conf) ||
        test::run("nsd -c " + dir_.file("nsd.conf")).exit_code != 0) {
      return false;
    }
    for (int i = 0; i < 100; ++i) {
      if (test::run("dig +short +time=1 +tries=1 @" + addresses[0] +
                    " svc1.default.svc.cluster.local")
              .out.find("10.96.7.7") != std::string::npos) {
        return true;
      }
    }
    return false;
  }

 private:
  test::TempDir dir_;
  std::string bin_;
  bool stand_in_ = false;
};

/// teardown succeeds and leaves links, addresses and rules exactly as `before` (snapshot()).
void expectTeardownRestores(const Node& node, const std::string& before) {
  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
  EXPECT_EQ(snapshot(), before);
}

std::string dig(const std::string& server, const std::string& name) {
  return test::run("dig +short +time=2 +tries=2 @" + server + " " + name).out;
}

// The daemon flows run twice: with the real `run`, and with a dnsmasq stand-in that isolates the
// workflow logic (ordering, rollback, state, stop/teardown) from the daemon's own state.
class DaemonWorkflows : public ::testing::TestWithParam<bool> {};

#define NEED_RUN(node)                                                            \
  do {                                                                            \
    if (!GetParam() && !(node).hasRun()) {                                        \
      GTEST_SKIP() << "the daemon ('nodelocaldns run') is not in this build yet"; \
    }                                                                             \
  } while (0)

TEST(Workflows, StatusWithoutInstallIsDegraded) {
  NLD_ENTER_NETNS();
  Node node;
  auto r = node.nld("status --json" + node.paths());
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "\"healthy\":false")) << r.out;
  EXPECT_TRUE(contains(r.out, "\"installed\":false")) << r.out;
}

TEST(Workflows, DryRunPrintsThePlanAndChangesNothing) {
  NLD_ENTER_NETNS();
  Node node;
  touchTables();
  ASSERT_TRUE(writeFileAtomic(node.dir().file("kubelet.yaml"), kKubeletConfig));
  std::string before = snapshot();
  auto r = node.nld("install --dry-run --mode iptables --cluster-upstream " +
                    std::string(kUpstream) + node.installFlags());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "kube-dns: 10.96.0.10 (clusterDNS in")) << r.out;
  EXPECT_TRUE(contains(r.out, "169.254.20.10")) << r.out;
  EXPECT_TRUE(contains(r.out, "-A PREROUTING -d 169.254.20.10/32 -p udp -m udp --dport 53"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "-A PREROUTING -d 10.96.0.10/32 -p udp")) << r.out;
  EXPECT_TRUE(contains(r.out, " run -localip 169.254.20.10,10.96.0.10 ")) << r.out;
  EXPECT_TRUE(contains(r.out, "forward . 10.96.0.11")) << r.out;
  EXPECT_TRUE(contains(r.out, "no change (iptables mode")) << r.out;
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(::access(node.dir().file("state/state").c_str(), F_OK), -1);
  EXPECT_EQ(::access(node.dir().file("etc").c_str(), F_OK), -1);
  EXPECT_EQ(*readFile(node.dir().file("kubelet.yaml")), kKubeletConfig);

  // ipvs: the plan shows the kubelet diff, still without touching the file.
  auto ipvs = node.nld("install --dry-run --mode ipvs" + node.installFlags());
  ASSERT_EQ(ipvs.exit_code, 0) << ipvs.out;
  EXPECT_TRUE(contains(ipvs.out, "+- \"169.254.20.10\"   # kube-dns")) << ipvs.out;
  EXPECT_TRUE(contains(ipvs.out, " run -localip 169.254.20.10 ")) << ipvs.out;
  EXPECT_EQ(*readFile(node.dir().file("kubelet.yaml")), kKubeletConfig);
  EXPECT_EQ(snapshot(), before);
}

TEST(Workflows, BadInputChangesNothing) {
  NLD_ENTER_NETNS();
  Node node;
  touchTables();
  std::string before = snapshot();
  // Forwarding the cluster zone to kube-dns itself would loop through our own interception.
  auto loop = node.nld(
      "install --mode iptables --kube-dns 10.96.0.10 --cluster-upstream "
      "10.96.0.10" +
      node.installFlags());
  EXPECT_EQ(loop.exit_code, 2) << loop.out;
  EXPECT_TRUE(contains(loop.out, "kube-dns-upstream")) << loop.out;
  // Malformed kubelet config and no --kube-dns: one clear line, file untouched.
  std::string bad = "kind: KubeletConfiguration\nclusterDNS: [10.96.0.10\n";
  ASSERT_TRUE(writeFileAtomic(node.dir().file("kubelet.yaml"), bad));
  auto r = node.nld("install --mode ipvs" + node.installFlags());
  EXPECT_EQ(r.exit_code, 2) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_TRUE(contains(r.out, "line ")) << r.out;
  EXPECT_EQ(*readFile(node.dir().file("kubelet.yaml")), bad);
  EXPECT_EQ(snapshot(), before);
}

TEST(Workflows, DaemonFailureRollsBack) {
  NLD_ENTER_NETNS();
  Node node;
  touchTables();
  std::string before = snapshot();
  // Hold TCP port 53 on every address so the daemon cannot bind (and, where `run` is not built
  // yet, the daemon fails to start at all: the same rollback path).
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  ASSERT_EQ(::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(::listen(s.get(), 1), 0);
  auto r = node.installIptables(5);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "rolled back:")) << r.out;
  EXPECT_TRUE(contains(r.out, "link nodelocaldns")) << r.out;
  EXPECT_TRUE(contains(r.out, "left: nothing")) << r.out;
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(::access(node.dir().file("state/state").c_str(), F_OK), -1);
  EXPECT_EQ(::access(node.dir().file("etc/Corefile.base").c_str(), F_OK), -1);
}

// A TCP listener on addr:53 (IP_FREEBIND: the address need not exist yet), so a daemon serving
// that address cannot bind it.
Fd holdPort53(const char* addr) {
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(s.get(), IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  if (::inet_pton(AF_INET, addr, &sa.sin_addr) != 1 ||
      ::bind(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::listen(s.get(), 1) != 0) {
    return Fd();
  }
  return s;
}

// gap: an install that adopted an existing link (here pre-created, down, with a foreign address)
// and then failed used to leave its addresses on it. It must take back exactly what it added.
TEST(Workflows, DaemonFailureOnAnAdoptedLinkRemovesOnlyOurAddresses) {
  NLD_ENTER_NETNS();
  Node node;
  ASSERT_EQ(test::run("ip link add nodelocaldns type bridge && "
                      "ip addr add 192.0.2.1/32 dev nodelocaldns")
                .exit_code,
            0);
  touchTables();
  // The kernel attaches the default qdisc (noop → noqueue) the first time a link goes up; taking
  // the link down again cannot undo that, and it changes nothing for traffic.
  auto snapshotIgnoringQdisc = [] {
    static const std::regex qdisc(R"(qdisc [a-z]+ |"qdisc":"[a-z]+",)");
    return std::regex_replace(snapshot(), qdisc, "");
  };
  std::string before = snapshotIgnoringQdisc();
  Fd held = holdPort53("0.0.0.0");
  ASSERT_TRUE(held);
  auto r = node.installIptables(5);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(
      contains(r.out, "addresses 169.254.20.10,10.96.0.10 on nodelocaldns and its up state"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "left: nothing")) << r.out;
  EXPECT_FALSE(contains(r.out, "previous daemon")) << r.out;  // there was none
  EXPECT_EQ(snapshotIgnoringQdisc(), before);
  EXPECT_TRUE(contains(test::run("ip -4 addr show nodelocaldns").out, "192.0.2.1/32"));
  EXPECT_EQ(::access(node.dir().file("state/state").c_str(), F_OK), -1);
}

// gap: Ctrl-C while install waits for the daemon killed install mid-way: link, Corefile and a
// daemon left, no state file. The signal is held and ends in the rollback.
TEST(Workflows, InterruptedInstallRollsBack) {
  NLD_ENTER_NETNS();
  Node node;
  touchTables();
  std::string before = snapshot();
  // A daemon that starts and never answers, so install sits in its wait.
  std::string fake = node.dir().file("silent_run.sh");
  // Its pid (kept by exec) appears in "started" in one step.
  ASSERT_TRUE(writeFileAtomic(fake, "#!/bin/sh\necho $$ >" + node.dir().file("started.tmp") +
                                        " && mv " + node.dir().file("started.tmp") + " " +
                                        node.dir().file("started") + "\nexec sleep 60\n"));
  ASSERT_EQ(::chmod(fake.c_str(), 0755), 0);
  std::string cmd = "exec " + std::string(NLD_TEST_BINARY) +
                    " install --mode iptables --kube-dns 10.96.0.10 --cluster-upstream " +
                    kUpstream + node.installFlags(30) + " --daemon-exe " + fake + " >" +
                    node.dir().file("install.out") + " 2>&1";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  auto waitUntil = [](const std::function<bool()>& cond) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > deadline) {
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  };
  ASSERT_TRUE(waitUntil([&] { return ::access(node.dir().file("started").c_str(), F_OK) == 0; }));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_TRUE(waitUntil([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }));
  std::string out = readFile(node.dir().file("install.out")).value_or("");
  ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of rolling back: " << out;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << out;
  EXPECT_TRUE(contains(out, "install interrupted (Interrupt); rolled back:")) << out;
  EXPECT_TRUE(contains(out, "left: nothing")) << out;
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(::access(node.dir().file("state/state").c_str(), F_OK), -1);
  EXPECT_EQ(::access(node.dir().file("etc/Corefile.base").c_str(), F_OK), -1);
  pid_t daemon = std::stoi(readFile(node.dir().file("started")).value_or("0"));
  ASSERT_GT(daemon, 0);
  EXPECT_NE(::kill(daemon, 0), 0) << "the daemon is left running";
}

// gap: two installs (or an install and a teardown) at once could both start a daemon or undo
// each other halfway. One at a time; the second says who holds the lock and changes nothing.
TEST(Workflows, ConcurrentRunsAreRefused) {
  NLD_ENTER_NETNS();
  Node node;
  touchTables();
  std::string before = snapshot();
  std::string lock = node.dir().file("pid.lock");
  Fd held(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(held);
  ASSERT_EQ(::flock(held.get(), LOCK_EX), 0);
  ASSERT_EQ(::pwrite(held.get(), "4242\n", 5, 0), 5);
  for (const std::string& cmd :
       {node.installIptablesArgs(), "teardown" + node.paths(), "stop" + node.paths()}) {
    auto r = node.nld(cmd);
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.out;
    EXPECT_TRUE(contains(r.out,
                         "another nodelocaldns install, teardown or stop is running (pid "
                         "4242 holds"))
        << r.out;
  }
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(::access(node.dir().file("etc").c_str(), F_OK), -1);
  // gap: install used to look at the node (state file, link, daemon, DNS, kubectl) before it took
  // the lock, then apply that plan after a concurrent teardown had changed the node. It locks
  // first now: refused before it looks at anything (here: kubectl, which it would ask for the
  // cluster upstream, is never run).
  std::string bin = node.dir().file("bin");
  ASSERT_EQ(
      test::run("mkdir " + bin + " && printf '#!/bin/sh\\ntouch " + node.dir().file("kubectl.ran") +
                "\\nprintf 10.96.0.11\\n' > " + bin + "/kubectl && chmod +x " + bin + "/kubectl")
          .exit_code,
      0);
  auto looked = node.nldWith("PATH=" + bin + ":$PATH",
                             "install --mode iptables --kube-dns 10.96.0.10" + node.installFlags());
  EXPECT_EQ(looked.exit_code, 1) << looked.out;
  EXPECT_TRUE(contains(looked.out, "another nodelocaldns install")) << looked.out;
  EXPECT_EQ(::access(node.dir().file("kubectl.ran").c_str(), F_OK), -1)
      << "install looked at the node before it held the lock";
  // The dry run changes nothing and needs no lock.
  auto dry = node.nld(
      "install --dry-run --mode iptables --kube-dns 10.96.0.10 "
      "--cluster-upstream " +
      std::string(kUpstream) + node.installFlags());
  EXPECT_EQ(dry.exit_code, 0) << dry.out;
}

TEST(Workflows, TeardownRemovesUpstreamLeftoversWithoutState) {
  NLD_ENTER_NETNS();
  Node node;
  touchTables();
  std::string before = snapshot();
  // What a SIGKILLed upstream node-cache leaves: the link, its addresses, rules (one duplicated).
  std::string c = "-m comment --comment 'NodeLocal DNS Cache: skip conntrack'";
  std::string a = "-m comment --comment 'NodeLocal DNS Cache: allow DNS traffic'";
  std::string setup =
      "set -e; ip link add nodelocaldns type bridge; "
      "ip addr add 169.254.20.10/32 dev nodelocaldns; ip addr add 10.96.0.10/32 dev nodelocaldns; "
      "for ip in 169.254.20.10 10.96.0.10; do "
      "iptables-legacy -w -t raw -I PREROUTING -p udp -d $ip --dport 53 -j NOTRACK " +
      c +
      "; "
      "iptables-legacy -w -t raw -I PREROUTING -p udp -d $ip --dport 53 -j NOTRACK " +
      c +
      "; "
      "iptables-legacy -w -t filter -I INPUT -p tcp -d $ip --dport 53 -j ACCEPT " +
      a +
      "; "
      "iptables-legacy -w -t raw -I OUTPUT -p tcp -s $ip --sport 8080 -j NOTRACK " +
      c +
      "; "
      "done";
  auto s = test::run(setup);
  ASSERT_EQ(s.exit_code, 0) << s.out;
  ASSERT_NE(snapshot(), before);
  auto r = node.nld("teardown" + node.paths());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "removed link nodelocaldns")) << r.out;
  EXPECT_EQ(snapshot(), before);
  // Idempotent.
  auto again = node.nld("teardown" + node.paths());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "nothing to tear down")) << again.out;
}

TEST(Workflows, TeardownLeavesAForeignLinkOfTheSameName) {
  NLD_ENTER_NETNS();
  Node node;
  auto s = test::run("ip link add nodelocaldns type veth peer name nld-peer");
  if (s.exit_code != 0) {
    GTEST_SKIP() << "no veth: " << s.out;
  }
  auto r = node.nld("teardown" + node.paths());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "kind 'veth'")) << r.out;
  EXPECT_EQ(test::run("ip link show nodelocaldns").exit_code, 0);
}

TEST(Workflows, ClusterUpstreamFromKubectlOrAClearError) {
  NLD_ENTER_NETNS();
  Node node;
  std::string bin = node.dir().file("bin");
  std::string flags =
      "install --dry-run --mode iptables --kube-dns 10.96.0.10" + node.installFlags();
  // No kubectl: the error says how to create the Service.
  ASSERT_EQ(test::run("mkdir " + bin).exit_code, 0);
  auto none = node.nldWith("PATH=" + bin, flags);
  EXPECT_EQ(none.exit_code, 2) << none.out;
  EXPECT_TRUE(contains(none.out, "render-manifest --only kube-dns-upstream")) << none.out;
  // A kubectl that knows the Service.
  ASSERT_EQ(
      test::run("printf '#!/bin/sh\\necho \"$@\" > " + node.dir().file("kubectl.args") +
                "\\nprintf 10.96.12.34\\n' > " + bin + "/kubectl && chmod +x " + bin + "/kubectl")
          .exit_code,
      0);
  auto found = node.nldWith("PATH=" + bin, flags);
  EXPECT_EQ(found.exit_code, 0) << found.out;
  EXPECT_TRUE(contains(found.out, "10.96.12.34 (kube-dns-upstream Service (kubectl))"))
      << found.out;
  EXPECT_TRUE(contains(test::run("cat " + node.dir().file("kubectl.args")).out,
                       "kube-system get svc kube-dns-upstream"));
}

TEST(Workflows, ModeAutoSaysWhichSignalDecided) {
  NLD_ENTER_NETNS();
  Node node;
  ASSERT_TRUE(writeFileAtomic(node.dir().file("kubelet.yaml"), kKubeletConfig));
  ASSERT_EQ(test::run("ip link add kube-ipvs0 type bridge").exit_code, 0);
  // Nothing listens on the kube-proxy address in this namespace: the link decides.
  auto r = node.nld("install --dry-run --mode auto --kube-proxy-address 127.0.0.1:10249" +
                    node.installFlags());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(contains(r.out, "mode: ipvs (")) << r.out;
  EXPECT_TRUE(contains(r.out, "kube-ipvs0")) << r.out;
}

TEST(Workflows, TeardownNamesWhatIsLeftAndExitsNonZero) {
  NLD_ENTER_NETNS();
  Node node(true);
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string before = snapshot();
  auto r = node.installIptables();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  // Someone holds the xtables lock longer than we wait (5 s; 300 ms through the test hook): the
  // rules cannot be removed.
  std::string lock = node.dir().file("xtables.lock");
  ASSERT_EQ(test::run("(flock -x " + lock + " sleep 2 >/dev/null 2>&1 &) ; sleep 0.2").exit_code,
            0);
  auto held = node.nldWith(kShortLockWait, "teardown" + node.paths());
  EXPECT_EQ(held.exit_code, 1) << held.out;
  EXPECT_TRUE(contains(held.out,
                       "teardown left: link nodelocaldns; 24 rule(s) (first: '-t raw "
                       "-A PREROUTING -d 169.254.20.10/32"))
      << held.out;
  EXPECT_TRUE(contains(held.out, "kept link nodelocaldns because its rules")) << held.out;
  // Even without the state file the next teardown finds every address on the kept link.
  ASSERT_EQ(::unlink(node.dir().file("state/state").c_str()), 0);
  // Once the lock is free, a second teardown finishes the job.
  ASSERT_EQ(test::run("flock -x " + lock + " true").exit_code, 0);
  auto again = node.nld("teardown" + node.paths());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_EQ(snapshot(), before);
}

// The xtables lock is held longer than install waits for it (5 s; 300 ms here), so step 4
// (rules) fails after the daemon wrote its runtime Corefile: the rollback removes that file too
// ("left: nothing" was said with it still there).
TEST(Workflows, InstallFailingOnAHeldXtablesLockRemovesTheRuntimeCorefile) {
  NLD_ENTER_NETNS();
  Node node;
  if (!node.hasRun()) {
    GTEST_SKIP() << "the daemon ('nodelocaldns run') is not in this build yet";
  }
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string before = snapshot();
  std::string lock = node.dir().file("xtables.lock");
  ASSERT_EQ(test::run("(flock -x " + lock + " sleep 2 >/dev/null 2>&1 &) ; sleep 0.2").exit_code,
            0);
  auto r = node.nldWith(kShortLockWait, node.installIptablesArgs(20));
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "Corefile " + node.dir().file("run/Corefile"))) << r.out;
  EXPECT_TRUE(contains(r.out, "left: nothing")) << r.out;
  EXPECT_EQ(::access(node.dir().file("run/Corefile").c_str(), F_OK), -1);
  EXPECT_EQ(::access(node.dir().file("etc/Corefile.base").c_str(), F_OK), -1);
  EXPECT_EQ(::access(node.dir().file("state/state.pending").c_str(), F_OK), -1);
  EXPECT_EQ(snapshot(), before);
}

TEST(Workflows, RevertKubeletFromRecordIsByteExact) {
  NLD_ENTER_NETNS();
  Node node;
  std::string cfg = node.dir().file("kubelet.yaml");
  std::string env = node.dir().file("kubelet.env");
  std::string env_text = "KUBELET_EXTRA_ARGS=\"--cluster-dns=169.254.20.10,fd00::a --v=2\"\n";
  std::string edited = kKubeletConfig;
  edited.replace(edited.find("10.96.0.10"), 10, "169.254.20.10");
  ASSERT_TRUE(writeFileAtomic(cfg, edited));
  ASSERT_TRUE(writeFileAtomic(env, env_text));
  ASSERT_EQ(test::run("mkdir -p " + node.dir().file("state")).exit_code, 0);
  ASSERT_TRUE(writeFileAtomic(node.dir().file("state/state"),
                              "mode=ipvs\nlocal_ips=169.254.20.10\nkube_dns=10.96.0.10\n"
                              "kubelet=config|" +
                                  cfg +
                                  "|10.96.0.10|169.254.20.10|\n"
                                  "kubelet=args|" +
                                  env + "|10.96.0.10,fd00::a|169.254.20.10,fd00::a|\n"));
  auto dry = node.nld("revert-kubelet --dry-run" + node.paths());
  EXPECT_EQ(dry.exit_code, 0) << dry.out;
  EXPECT_TRUE(contains(dry.out, "+- \"10.96.0.10\"   # kube-dns")) << dry.out;
  EXPECT_EQ(*readFile(cfg), edited);
  auto r = node.nld("revert-kubelet" + node.paths());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(*readFile(cfg), kKubeletConfig);
  EXPECT_EQ(*readFile(env), "KUBELET_EXTRA_ARGS=\"--cluster-dns=10.96.0.10,fd00::a --v=2\"\n");
  // The record is consumed: a second revert has nothing to do without --kube-dns.
  auto again = node.nld("revert-kubelet" + node.paths());
  EXPECT_EQ(again.exit_code, 2) << again.out;
  // --kube-dns: every local-address value becomes kube-dns.
  ASSERT_TRUE(writeFileAtomic(cfg, edited));
  auto flag = node.nld("revert-kubelet --kube-dns 10.96.0.10 --kubelet-config " + cfg +
                       " --kubelet-extra-args " + env + node.paths());
  EXPECT_EQ(flag.exit_code, 0) << flag.out;
  EXPECT_EQ(*readFile(cfg), kKubeletConfig);
}

TEST_P(DaemonWorkflows, InstallStatusTeardownLeavesNoTrace) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd()) << test::run("cat " + node.dir().file("nsd.log")).out;
  ASSERT_TRUE(writeFileAtomic(node.dir().file("kubelet.yaml"), kKubeletConfig));
  touchTables();
  std::string before = snapshot();

  auto r = node.nld("install --mode iptables --cluster-upstream " + std::string(kUpstream) +
                    node.installFlags());
  ASSERT_EQ(r.exit_code, 0) << r.out << test::run("cat " + node.dir().file("daemon.log")).out;
  EXPECT_TRUE(contains(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  EXPECT_TRUE(contains(dig(kKubeDns, "svc1.default.svc.cluster.local"), "10.96.7.7"));
  auto status = node.nld("status --json" + node.paths());
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_TRUE(contains(status.out, "\"healthy\":true")) << status.out;
  EXPECT_EQ(*readFile(node.dir().file("kubelet.yaml")), kKubeletConfig);  // iptables: untouched

  // Twice = once.
  std::string installed = snapshot();
  auto again = node.nld("install --mode iptables --cluster-upstream " + std::string(kUpstream) +
                        node.installFlags());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "nothing changed")) << again.out;
  EXPECT_EQ(snapshot(), installed);

  expectTeardownRestores(node, before);
  node.expectStatus(1);
}

TEST_P(DaemonWorkflows, TeardownAfterKill9) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string before = snapshot();
  auto r = node.installIptables();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_EQ(test::run("kill -9 $(cat " + node.dir().file("pid") + ")").exit_code, 0);
  node.killStandInChild();
  node.expectStatus(1);
  expectTeardownRestores(node, before);
}

// The files under the test directory with their content, but for those that stay by design: the
// daemon's log (kept for diagnosis), the lock file (never removed, see cli/node/lock.h; it holds
// the last holder's pid) and nsd's and kubelet's files of the fixture.
std::string filesSnapshot(const Node& node) {
  return test::run("cd " + node.dir().path() +
                   " && find . -type f ! -name daemon.log ! -name pid.lock ! -name 'nsd*' "
                   "! -name xfrd.state ! -name zone.list ! -name cluster.local.zone "
                   "! -name 'kubelet.*' | sort | xargs -r md5sum")
      .out;
}

// kill -9 of install at random points (from before it reads anything to after it wrote its state
// file), then teardown: the node is exactly as before, links, addresses, rules and files.
TEST(Workflows, InstallKilledAtRandomPointsThenTeardownRestoresTheNode) {
  NLD_ENTER_NETNS();
  Node node;
  if (!node.hasRun()) {
    GTEST_SKIP() << "the daemon ('nodelocaldns run') is not in this build yet";
  }
  ASSERT_TRUE(node.startNsd());
  touchTables();
  // One full install and teardown first: the lock file, the log and the directories install
  // creates stay by design.
  auto first = node.installIptables();
  ASSERT_EQ(first.exit_code, 0) << first.out;
  ASSERT_EQ(node.nld("teardown" + node.paths()).exit_code, 0);
  const std::string before = snapshot();
  const std::string files = filesSnapshot(node);
  const unsigned seed = std::random_device{}();
  std::mt19937 rng(seed);
  // An install here takes some tens of ms: the range covers every step and some complete runs.
  std::uniform_int_distribution<int> delay_us(0, 120000);
  int found_something = 0;
  for (int trial = 0; trial < 30 && !HasFailure(); ++trial) {
    const int us = delay_us(rng);
    char secs[32];
    std::snprintf(secs, sizeof(secs), "%d.%06d", us / 1000000, us % 1000000);
    test::run("(" + std::string(NLD_TEST_BINARY) + " " + node.installIptablesArgs() +
              " >/dev/null 2>&1 & p=$!; sleep " + secs + "; kill -9 $p; wait $p)");
    const std::string where = "trial " + std::to_string(trial) + " (seed " + std::to_string(seed) +
                              "), killed after " + std::to_string(us) + " us";
    // A child that install forked just before the kill holds install's lock until its exec
    // closes it (O_CLOEXEC): teardown then says "busy", as it should; ask again until it is gone.
    auto down = node.nld("teardown" + node.paths());
    for (int i = 0;
         i < 100 && down.exit_code != 0 && down.out.find("is running (pid") != std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      down = node.nld("teardown" + node.paths());
    }
    EXPECT_EQ(down.exit_code, 0) << where << ": " << down.out;
    EXPECT_EQ(snapshot(), before) << where;
    EXPECT_EQ(filesSnapshot(node), files) << where << "\n" << down.out;
    found_something += down.out != "nothing to tear down\n" ? 1 : 0;
  }
  std::printf("%d of 30 killed installs left something to tear down (seed %u)\n", found_something,
              seed);
}

TEST_P(DaemonWorkflows, StopKeepsInterfaceAndRules) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd());
  auto r = node.installIptables();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  std::string installed = snapshot();
  auto stop = node.nld("stop" + node.paths());
  EXPECT_EQ(stop.exit_code, 0) << stop.out;
  EXPECT_TRUE(contains(stop.out, "DNS to 169.254.20.10, 10.96.0.10 fails")) << stop.out;
  EXPECT_EQ(snapshot(), installed);
  {
    // Nothing listens any more: status says so at once instead of waiting out a DNS probe (the
    // "nothing listening" text is only given when no probe was sent).
    auto st = node.expectStatus(1);
    EXPECT_TRUE(contains(st.out, "not running, nothing listening on 169.254.20.10:53")) << st.out;
  }
  // A new install starts the daemon again.
  auto again = node.installIptables();
  EXPECT_EQ(again.exit_code, 0) << again.out;
  node.expectStatus(0);
  {
    auto td = node.nld("teardown" + node.paths());
    EXPECT_EQ(td.exit_code, 0) << td.out;
  }
}

TEST_P(DaemonWorkflows, IpvsInstallThenRevertKubeletIsByteExact) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  // ipvs: the cluster zone goes to kube-dns itself; nsd answers there too.
  ASSERT_TRUE(node.startNsd({kUpstream, kKubeDns}));
  std::string cfg = node.dir().file("kubelet.yaml");
  std::string env = node.dir().file("kubelet.env");
  const std::string env_text = "# kubeadm\nKUBELET_EXTRA_ARGS=--cluster-dns=10.96.0.10 --v=2\n";
  ASSERT_TRUE(writeFileAtomic(cfg, kKubeletConfig));
  ASSERT_TRUE(writeFileAtomic(env, env_text));
  touchTables();
  std::string before = snapshot();
  auto r = node.nld("install --mode ipvs" + node.installFlags());
  ASSERT_EQ(r.exit_code, 0) << r.out << test::run("cat " + node.dir().file("daemon.log")).out;
  EXPECT_TRUE(contains(r.out, "restart kubelet")) << r.out;
  EXPECT_TRUE(contains(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  std::string edited = kKubeletConfig;
  edited.replace(edited.find("10.96.0.10"), 10, "169.254.20.10");
  EXPECT_EQ(*readFile(cfg), edited);
  EXPECT_EQ(*readFile(env), "# kubeadm\nKUBELET_EXTRA_ARGS=--cluster-dns=169.254.20.10 --v=2\n");
  auto status = node.nld("status --json" + node.paths());
  EXPECT_EQ(status.exit_code, 0) << status.out;
  EXPECT_TRUE(contains(status.out, "\"cluster_dns\":[\"169.254.20.10\"]")) << status.out;
  auto again = node.nld("install --mode ipvs" + node.installFlags());
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "nothing changed")) << again.out;
  // --restart-kubelet runs `systemctl restart kubelet` (a recording stand-in on PATH here).
  std::string bin = node.dir().file("bin");
  ASSERT_EQ(test::run("mkdir " + bin + " && printf '#!/bin/sh\\necho \"$@\" > " +
                      node.dir().file("systemctl.args") + "\\n' > " + bin +
                      "/systemctl && chmod +x " + bin + "/systemctl")
                .exit_code,
            0);
  auto revert =
      node.nldWith("PATH=" + bin + ":$PATH", "revert-kubelet --restart-kubelet" + node.paths());
  EXPECT_EQ(revert.exit_code, 0) << revert.out;
  EXPECT_EQ(*readFile(cfg), kKubeletConfig);
  EXPECT_EQ(*readFile(env), env_text);
  EXPECT_EQ(test::run("cat " + node.dir().file("systemctl.args")).out, "restart kubelet\n");
  // ipvs status now says kubelet does not point here: degraded.
  node.expectStatus(1);
  expectTeardownRestores(node, before);
  EXPECT_EQ(*readFile(cfg), kKubeletConfig);
  // No file of ours is left (state, kubelet backups, Corefiles).
  EXPECT_EQ(test::run("find " + node.dir().file("state") + " " + node.dir().file("etc") + " " +
                      node.dir().file("run") + " -type f")
                .out,
            "");
}

TEST_P(DaemonWorkflows, ReinstallWithAnotherLocalIpMovesTheRules) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string before = snapshot();
  std::string common = node.installIptablesArgs();
  auto first = node.nld(common + " --local-ip 169.254.20.10");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  auto second = node.nld(common + " --local-ip 169.254.20.11");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_TRUE(contains(dig("169.254.20.11", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  std::string rules = test::run("iptables-legacy-save").out;
  EXPECT_TRUE(contains(rules, "-d 169.254.20.11/32")) << rules;
  EXPECT_FALSE(contains(rules, "169.254.20.10/32")) << rules;
  // The old address goes from the link too (the link is ours: an install created it).
  EXPECT_TRUE(contains(second.out,
                       "removed addresses no longer served, and their rules: "
                       "169.254.20.10"))
      << second.out;
  std::string addrs = test::run("ip -4 addr show nodelocaldns").out;
  EXPECT_FALSE(contains(addrs, "169.254.20.10/32")) << addrs;
  EXPECT_TRUE(contains(addrs, "169.254.20.11/32")) << addrs;
  node.expectStatus(0);
  expectTeardownRestores(node, before);
}

// gap: a reinstall with a new --local-ip whose new daemon cannot start must leave the node as the
// first install made it: the new address and its rules gone, the old daemon serving again.
TEST_P(DaemonWorkflows, FailedReinstallRestoresThePreviousInstall) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string common = node.installIptablesArgs(5);
  auto first = node.nld(common + " --local-ip 169.254.20.10");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  std::string installed = snapshot();
  std::string state = *readFile(node.dir().file("state/state"));
  std::string corefile = *readFile(node.dir().file("etc/Corefile.base"));
  Fd held = holdPort53("169.254.20.11");
  ASSERT_TRUE(held);
  auto second = node.nld(common + " --local-ip 169.254.20.11");
  EXPECT_EQ(second.exit_code, 1) << second.out;
  EXPECT_TRUE(contains(second.out, "addresses 169.254.20.11 on nodelocaldns")) << second.out;
  EXPECT_TRUE(contains(second.out, "rules of 169.254.20.11")) << second.out;
  EXPECT_TRUE(contains(second.out, "previous daemon restarted")) << second.out;
  EXPECT_TRUE(contains(second.out, "left: nothing")) << second.out;
  EXPECT_EQ(snapshot(), installed);
  EXPECT_EQ(*readFile(node.dir().file("state/state")), state);
  EXPECT_EQ(*readFile(node.dir().file("etc/Corefile.base")), corefile);
  EXPECT_TRUE(contains(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  node.expectStatus(0);
  held = Fd();
  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
}

// gap: a reinstall that stopped a daemon it cannot start again (no state file records how it was
// started) and whose new daemon failed left that daemon's NOTRACK rules pointing at an address
// nothing served. They go now, so DNS falls back to kube-dns, and the message says so.
TEST_P(DaemonWorkflows, FailedReinstallWithoutStateRemovesThePreviousRules) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string before = snapshot();
  std::string common = node.installIptablesArgs(5);
  auto first = node.nld(common + " --local-ip 169.254.20.10");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  pid_t old_pid = std::stoi(readFile(node.dir().file("pid")).value_or("0"));
  ASSERT_GT(old_pid, 0);
  ASSERT_EQ(::unlink(node.dir().file("state/state").c_str()), 0);
  Fd held = holdPort53("169.254.20.11");
  ASSERT_TRUE(held);
  auto second = node.nld(common + " --local-ip 169.254.20.11");
  EXPECT_EQ(second.exit_code, 1) << second.out;
  EXPECT_TRUE(contains(second.out, "left: previous daemon pid " + std::to_string(old_pid) +
                                       " not restarted (no state file records how it was "
                                       "started), so the rules of 169.254.20.10,10.96.0.10 were "
                                       "removed: DNS falls back to kube-dns"))
      << second.out;
  std::string rules = test::run("iptables-legacy-save").out;
  EXPECT_FALSE(contains(rules, "169.254.20.1")) << rules;
  EXPECT_FALSE(contains(rules, "10.96.0.10/32")) << rules;
  EXPECT_FALSE(alive(old_pid)) << "the previous daemon runs again";
  node.killStandInChild();
  held = Fd();
  expectTeardownRestores(node, before);
}

// gap: Ctrl-C between the first steps and the restart still stopped the running daemon (and
// started the new one) before rolling back. A signal already pending when install starts is
// seen at the first check: the running daemon is never touched, the exit code is 128 + SIGINT.
TEST_P(DaemonWorkflows, InterruptedReinstallLeavesTheRunningDaemon) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd());
  touchTables();
  std::string common = node.installIptablesArgs();
  auto first = node.nld(common);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  std::string installed = snapshot();
  std::string corefile = *readFile(node.dir().file("etc/Corefile.base"));
  pid_t old_pid = std::stoi(readFile(node.dir().file("pid")).value_or("0"));
  ASSERT_GT(old_pid, 0);
  // A new Corefile (other domain) would restart the daemon.
  std::string cmd = "exec " + std::string(NLD_TEST_BINARY) + " " + common +
                    " --domain example.local >" + node.dir().file("install.out") + " 2>&1";
  pid_t pid = ::fork();
  if (pid == 0) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    ::raise(SIGINT);  // pending across exec
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::string out = readFile(node.dir().file("install.out")).value_or("");
  ASSERT_TRUE(WIFEXITED(status)) << out;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT) << out;
  EXPECT_TRUE(contains(out, "install interrupted (Interrupt)")) << out;
  EXPECT_TRUE(contains(out, "left: nothing")) << out;
  EXPECT_FALSE(contains(out, "previous daemon")) << out;
  EXPECT_TRUE(alive(old_pid)) << "the running daemon was stopped";
  EXPECT_EQ(std::stoi(readFile(node.dir().file("pid")).value_or("0")), old_pid);
  EXPECT_EQ(*readFile(node.dir().file("etc/Corefile.base")), corefile);
  EXPECT_EQ(snapshot(), installed);
  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
}

// gap: install over a daemon that runs but does not answer (wedged) said "nothing changed". It
// must restart it. The real daemon only: its test hook stops the DNS workers, keeping the process.
TEST(Workflows, InstallRestartsADaemonThatDoesNotAnswer) {
  NLD_ENTER_NETNS();
  Node node;
  if (!node.hasRun()) {
    GTEST_SKIP() << "the daemon ('nodelocaldns run') is not in this build yet";
  }
  ASSERT_TRUE(node.startNsd());
  std::string install = node.installIptablesArgs();
  auto r = node.nldWith("NLD_TEST_HOOKS=1", install);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  pid_t pid = std::stoi(*readFile(node.dir().file("pid")));
  ASSERT_EQ(::kill(pid, SIGRTMIN + 1), 0);
  ASSERT_TRUE([&] {
    for (int i = 0; i < 50; ++i) {
      if (node.nld("status" + node.paths()).exit_code == 1) {
        return true;
      }
    }
    return false;
  }());
  auto again = node.nld(install);
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_FALSE(contains(again.out, "nothing changed")) << again.out;
  EXPECT_TRUE(contains(
      again.out, "(restarted: pid " + std::to_string(pid) + " was running but did not answer DNS)"))
      << again.out;
  EXPECT_TRUE(contains(dig("169.254.20.10", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  node.expectStatus(0);
  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
}

// gap: "does the daemon answer" was an SOA query for the cluster domain, which the cache forwards
// to kube-dns: with kube-dns slow or down, install restarted a healthy cache (and a first install
// failed). It is the daemon's own health probe now, answered without upstreams. The real daemon
// only: the dnsmasq stand-in forwards that query too.
TEST(Workflows, InstallDoesNotBlameTheCacheForASilentKubeDns) {
  NLD_ENTER_NETNS();
  Node node;
  if (!node.hasRun()) {
    GTEST_SKIP() << "the daemon ('nodelocaldns run') is not in this build yet";
  }
  // kube-dns-upstream takes every query and never answers.
  ASSERT_EQ(test::run("ip addr add " + std::string(kUpstream) + "/32 dev lo").exit_code, 0);
  Fd silent(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(53);
  ASSERT_EQ(::inet_pton(AF_INET, kUpstream, &sa.sin_addr), 1);
  ASSERT_EQ(::bind(silent.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  std::string install = node.installIptablesArgs(10);
  auto t0 = std::chrono::steady_clock::now();
  auto r = node.nld(install);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_EQ(r.exit_code, 0) << r.out;
  pid_t pid = std::stoi(readFile(node.dir().file("pid")).value_or("0"));
  auto again = node.nld(install);
  auto t2 = std::chrono::steady_clock::now();
  std::printf("silent kube-dns: install %lld ms, reinstall (no change) %lld ms\n",
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(t1 - t0).count()),
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(t2 - t1).count()));
  EXPECT_EQ(again.exit_code, 0) << again.out;
  EXPECT_TRUE(contains(again.out, "nothing changed")) << again.out;
  EXPECT_FALSE(contains(again.out, "restarted")) << again.out;
  EXPECT_EQ(std::stoi(readFile(node.dir().file("pid")).value_or("0")), pid);
  // status tells the two problems apart: the cache serves, kube-dns does not answer through it.
  auto st = node.expectStatus(1);
  EXPECT_TRUE(contains(st.out, "serves, but cluster.local. gets no answer")) << st.out;
  EXPECT_FALSE(contains(st.out, "health query")) << st.out;
  auto js = node.nld("status --json" + node.paths());
  EXPECT_TRUE(contains(js.out, "\"serving\":true,\"answering\":false")) << js.out;
  auto down = node.nld("teardown" + node.paths());
  EXPECT_EQ(down.exit_code, 0) << down.out;
}

TEST_P(DaemonWorkflows, Ipv6OnlyInstallStatusTeardown) {
  NLD_ENTER_NETNS();
  Node node(GetParam());
  NEED_RUN(node);
  ASSERT_TRUE(node.startNsd({"fd00::b"}));
  touchTables();
  std::string before = snapshot();
  auto r = node.nld(
      "install --mode iptables --kube-dns fd00::a --cluster-upstream fd00::b "
      "--local-ip fd00::10" +
      node.installFlags(20, "fd00::b"));
  ASSERT_EQ(r.exit_code, 0) << r.out << test::run("cat " + node.dir().file("daemon.log")).out;
  EXPECT_TRUE(contains(dig("fd00::10", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  EXPECT_TRUE(contains(dig("fd00::a", "svc1.default.svc.cluster.local"), "10.96.7.7"));
  EXPECT_TRUE(contains(test::run("ip6tables-legacy-save -t raw").out, "-d fd00::10/128"));
  node.expectStatus(0);
  expectTeardownRestores(node, before);
}

INSTANTIATE_TEST_SUITE_P(Daemons, DaemonWorkflows, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? "StandIn" : "Real";
                         });

}  // namespace
}  // namespace nld
