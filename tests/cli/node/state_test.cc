#include "cli/node/state.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "base/atomic_file.h"
#include "base/fd.h"
#include "base/scope_exit.h"
#include "cli/node/daemon.h"
#include "cli/node/kubelet.h"
#include "cli/node/lock.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

TEST(NodeState, RoundTrips) {
  NodeState s;
  s.mode = netcfg::ProxyMode::kIpvs;
  s.mode_signal = "kube-ipvs0 link";
  s.link_created = true;
  s.addresses = {*IpAddress::parse("169.254.20.10"), *IpAddress::parse("fd00::10")};
  s.local_ips = s.addresses;
  s.kube_dns = IpAddress::parse("10.96.0.10");
  s.daemon_command = "/usr/sbin/nodelocaldns run -localip 169.254.20.10";
  s.installed_at = 1700000000;
  s.kubelet.push_back({"config",
                       "/var/lib/kubelet/config.yaml",
                       {"10.96.0.10", "fd00::a"},
                       {"169.254.20.10", "fd00::10"},
                       "/var/lib/nodelocaldns/kubelet.orig"});
  auto text = formatNodeState(s);
  auto back = parseNodeState(text);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(formatNodeState(*back), text);
  EXPECT_EQ(back->kubelet.size(), 1u);
  EXPECT_EQ(back->kubelet[0].before, (std::vector<std::string>{"10.96.0.10", "fd00::a"}));
}

TEST(NodeState, MissingFileIsNullopt) {
  test::TempDir dir;
  auto s = loadNodeState(dir.file("nope"));
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->has_value());
  ASSERT_TRUE(saveNodeState(dir.file("a/b/state"), NodeState{}));
  auto t = loadNodeState(dir.file("a/b/state"));
  ASSERT_TRUE(t);
  EXPECT_TRUE(t->has_value());
}

TEST(NodeState, BadLineIsAParseError) {
  auto s = parseNodeState("mode=ipvs\ngarbage\n");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("line 2"), std::string::npos);
}

TEST(NodeLock, SecondHolderGetsAClearBusyError) {
  test::TempDir dir;
  std::string pidfile = dir.file("run/nodelocaldns.pid");
  {
    auto first = NodeLock::acquire(pidfile);
    ASSERT_TRUE(first) << first.error().message();
    auto second = NodeLock::acquire(pidfile);
    ASSERT_FALSE(second);
    EXPECT_EQ(second.error().code(), Errc::kBusy);
    EXPECT_EQ(second.error().message(),
              "another nodelocaldns install, teardown or stop is running (pid " +
                  std::to_string(::getpid()) + " holds '" + pidfile +
                  ".lock'); try again once it is done");
  }
  auto again = NodeLock::acquire(pidfile);
  EXPECT_TRUE(again) << again.error().message();
}

// `stop` (and install, teardown) take <pidfile>.lock and write their pid into it: a symbolic
// link planted there made them overwrite its target. Now refused, target untouched.
TEST(NodeLock, PlantedSymlinkIsRefusedAndItsTargetUntouched) {
  test::TempDir dir;
  std::string target = dir.file("victim");
  ASSERT_TRUE(writeFileAtomic(target, "precious\n"));
  std::string pidfile = dir.file("nodelocaldns.pid");
  ASSERT_EQ(::symlink(target.c_str(), (pidfile + ".lock").c_str()), 0);
  auto lock = NodeLock::acquire(pidfile);
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.error().message(),
            "open lock file: '" + pidfile + ".lock' is a symbolic link; refusing to follow it");
  EXPECT_EQ(*readFile(target), "precious\n");
  // A pidfile that is a link names no daemon of ours (stop would otherwise signal its pid).
  ASSERT_TRUE(writeFileAtomic(target, "1\n"));
  ASSERT_EQ(::symlink(target.c_str(), pidfile.c_str()), 0);
  EXPECT_FALSE(readPidFile(pidfile));
}

TEST(NodeDaemon, LogFileSymlinkIsRefused) {
  test::TempDir dir;
  std::string target = dir.file("victim");
  ASSERT_TRUE(writeFileAtomic(target, "precious\n"));
  std::string log = dir.file("nodelocaldns.log");
  ASSERT_EQ(::symlink(target.c_str(), log.c_str()), 0);
  auto pid = spawnDetached({"/bin/true", "run"}, log);
  ASSERT_FALSE(pid);
  EXPECT_EQ(pid.error().message(),
            "open log file: '" + log + "' is a symbolic link; refusing to follow it");
  EXPECT_EQ(*readFile(target), "precious\n");
}

TEST(NodeDaemon, StalePidfileIsNotADaemon) {
  test::TempDir dir;
  std::string pidfile = dir.file("pid");
  // pid 1 exists but is not "<exe> run".
  ASSERT_TRUE(saveNodeState(pidfile, NodeState{}));  // any content: not a number
  EXPECT_FALSE(readPidFile(pidfile));
  test::run("echo 1 > " + pidfile);
  EXPECT_EQ(readPidFile(pidfile), 1);
  EXPECT_FALSE(findDaemon(pidfile));
  auto r = stopDaemon(pidfile, std::chrono::milliseconds(100));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->was_running);
}

TEST(NodeDaemon, SpawnStopsWithSigtermThenSigkill) {
  test::TempDir dir;
  // A stand-in whose first argument is "run" and that ignores SIGTERM.
  std::string script = dir.file("fake");
  test::run("printf '#!/bin/sh\\ntrap \"\" TERM\\necho $$ > " + dir.file("pid") +
            "\\nwhile :; do sleep 0.05; done\\n' > " + script + " && chmod +x " + script);
  auto pid = spawnDetached({script, "run"}, dir.file("log"));
  ASSERT_TRUE(pid) << pid.error().message();
  ScopeExit reap([p = *pid] {  // never leave the stand-in running if an assertion fails
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  });
  for (int i = 0; i < 200 && !readPidFile(dir.file("pid")); ++i) {
    test::run("sleep 0.01");
  }
  ASSERT_EQ(readPidFile(dir.file("pid")), *pid);
  EXPECT_TRUE(isDaemonProcess(*pid));
  auto r = stopDaemon(dir.file("pid"), std::chrono::milliseconds(300));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->was_running);
  EXPECT_TRUE(r->killed);
  EXPECT_FALSE(isDaemonProcess(*pid));
}

TEST(NodeDaemon, SpawnOfMissingExecutableFails) {
  test::TempDir dir;
  auto pid = spawnDetached({dir.file("missing"), "run"}, dir.file("log"));
  ASSERT_FALSE(pid);
  EXPECT_NE(pid.error().message().find("No such file"), std::string::npos);
}

TEST(NodeDaemon, DaemonLocalIpsComeFromItsCommandLine) {
  test::TempDir dir;
  // `sh -c CMD run -localip ...`: the shell keeps these arguments while its child sleeps.
  auto pid = spawnDetached({"/bin/sh", "-c", "sleep 5", "run", "-localip", "169.254.20.10,fd00::a"},
                           dir.file("log"));
  ASSERT_TRUE(pid) << pid.error().message();
  ScopeExit reap([p = *pid] {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  });
  EXPECT_EQ(daemonLocalIps(*pid), (std::vector<std::string>{"169.254.20.10", "fd00::a"}));
  EXPECT_TRUE(daemonLocalIps(::getpid()).empty());
}

// teardown and stop read the state file only once they hold the lock, and lock the pidfile the
// state file names unless --pidfile was given.
TEST(NodeLock, LockNodeStateLocksThePidfileTheStateNames) {
  test::TempDir dir;
  NodeState s;
  s.pidfile = dir.file("run/other.pid");
  s.addresses = {*IpAddress::parse("169.254.20.10")};
  ASSERT_TRUE(saveNodeState(dir.file("state"), s));
  {
    auto locked = lockNodeState(dir.file("state"), dir.file("default.pid"), false);
    ASSERT_TRUE(locked) << locked.error().message();
    EXPECT_EQ(locked->pidfile, s.pidfile);
    ASSERT_TRUE(locked->state && *locked->state);
    EXPECT_EQ((*locked->state)->addresses, s.addresses);
    auto busy = NodeLock::acquire(s.pidfile);
    ASSERT_FALSE(busy);
    EXPECT_EQ(busy.error().code(), Errc::kBusy);
    // The flag wins over the state file.
    auto flag = lockNodeState(dir.file("state"), dir.file("default.pid"), true);
    ASSERT_TRUE(flag) << flag.error().message();
    EXPECT_EQ(flag->pidfile, dir.file("default.pid"));
  }
  // Held by someone else: a clear busy error, nothing read.
  auto held = NodeLock::acquire(s.pidfile);
  ASSERT_TRUE(held);
  auto refused = lockNodeState(dir.file("state"), dir.file("default.pid"), false);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), Errc::kBusy);
}

TEST(NodeDaemon, CommandLineTextQuotes) {
  EXPECT_EQ(commandLineText({"/bin/x", "run", "-localip", "a,b", "it's"}),
            "/bin/x run -localip a,b 'it'\\''s'");
}

TEST(KubeletRevert, OnlyValuesInstallWroteGoBack) {
  test::TempDir dir;
  std::string path = dir.file("config.yaml");
  // Someone changed the second value after install: it is theirs now and stays.
  ASSERT_TRUE(writeFileAtomic(path, "clusterDNS: [169.254.20.10, 'fd00::99']  # x\n"));
  KubeletChange c{"config", path, {"10.96.0.10", "fd00::a"}, {"169.254.20.10", "fd00::10"}, ""};
  auto dry = revertKubeletChanges({c}, true);
  EXPECT_TRUE(dry.problems.empty());
  EXPECT_EQ(dry.remaining.size(), 1u);
  EXPECT_EQ(*readFile(path), "clusterDNS: [169.254.20.10, 'fd00::99']  # x\n");
  auto r = revertKubeletChanges({c}, false);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_TRUE(r.remaining.empty());
  EXPECT_EQ(*readFile(path), "clusterDNS: [10.96.0.10, 'fd00::99']  # x\n");
}

TEST(KubeletRevert, ChangedValueCountIsLeftAlone) {
  test::TempDir dir;
  std::string path = dir.file("config.yaml");
  std::string text = "clusterDNS:\n- 169.254.20.10\n- 10.0.0.1\n";
  ASSERT_TRUE(writeFileAtomic(path, text));
  KubeletChange c{"config", path, {"10.96.0.10"}, {"169.254.20.10"}, dir.file("backup")};
  auto r = revertKubeletChanges({c}, false);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("not touching it"), std::string::npos) << r.problems[0];
  EXPECT_NE(r.problems[0].find(dir.file("backup")), std::string::npos) << r.problems[0];
  EXPECT_EQ(r.remaining.size(), 1u);
  EXPECT_EQ(*readFile(path), text);
}

TEST(KubeletRevert, WithoutRecordLocalValuesBecomeKubeDns) {
  test::TempDir dir;
  std::string env = dir.file("kubelet");
  ASSERT_TRUE(writeFileAtomic(env, "KUBELET_EXTRA_ARGS='--cluster-dns 169.254.20.10,10.0.0.2'\n"));
  auto r =
      revertKubeletTo({{env, "args"}, {dir.file("absent"), "config"}},
                      {*IpAddress::parse("169.254.20.10")}, *IpAddress::parse("10.96.0.10"), false);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_EQ(*readFile(env), "KUBELET_EXTRA_ARGS='--cluster-dns 10.96.0.10,10.0.0.2'\n");
}

}  // namespace
}  // namespace nld::cli
