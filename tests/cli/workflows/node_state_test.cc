#include "cli/node_state.h"

#include <gtest/gtest.h>

#include "cli/node_daemon.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

TEST(NodeState, RoundTrips) {
  NodeState s;
  s.mode = "ipvs";
  s.mode_signal = "kube-ipvs0 link";
  s.link_created = true;
  s.addresses = {"169.254.20.10", "fd00::10"};
  s.local_ips = s.addresses;
  s.kube_dns = "10.96.0.10";
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

TEST(NodeDaemon, CommandLineTextQuotes) {
  EXPECT_EQ(commandLineText({"/bin/x", "run", "-localip", "a,b", "it's"}),
            "/bin/x run -localip a,b 'it'\\''s'");
}

}  // namespace
}  // namespace nld::cli
