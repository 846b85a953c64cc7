// node-cache's bare command line (cli/app.h commandLine()): the upstream manifest's container
// args verbatim, kOps' and kubespray's `-flag=value` forms, invoked as `nodelocaldns` and as
// `node-cache`, parsed by the real `run` subcommand into RunFlags.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <fstream>
#include <sstream>

#include "cli/app.h"
#include "cli/commands.h"
#include "cli/run/daemon.h"
#include "cli/run/flags.h"
#include "tests/support/netns.h"

namespace nld::cli {
namespace {

using Args = std::vector<std::string>;

// Parses as runMain() does; returns whether `run` was selected, fills `flags`.
bool parseRun(const std::string& argv0, const Args& args, RunFlags& flags) {
  CLI::App app("test", "nodelocaldns");
  std::string log_level = "info";
  app.add_option("--log-level", log_level);
  app.require_subcommand(1);
  app.fallthrough();
  CLI::App* run = addRunSubcommand(app, flags);
  app.add_subcommand("status", "");
  Args line = commandLine(argv0, args);
  app.parse(Args(line.rbegin(), line.rend()));
  return run->parsed();
}

// The `args: [ ... ]` list of the upstream manifest (tests/golden/manifest-upstream.in.yaml, a
// verbatim copy of kubernetes' nodelocaldns.yaml), the placeholders as its docs' sed fills them.
Args upstreamManifestArgs() {
  std::ifstream in(test::sourcePath("tests/golden/manifest-upstream.in.yaml"));
  std::string line;
  while (std::getline(in, line)) {
    size_t open = line.find("args: [");
    if (open == std::string::npos) {
      continue;
    }
    Args out;
    for (size_t q = line.find('"', open); q != std::string::npos; q = line.find('"', q + 1)) {
      size_t end = line.find('"', q + 1);
      out.push_back(line.substr(q + 1, end - q - 1));
      q = end;
    }
    for (auto& a : out) {
      if (a == "__PILLAR__LOCAL__DNS__,__PILLAR__DNS__SERVER__") {
        a = "169.254.20.10,10.96.0.10";
      }
    }
    return out;
  }
  return {};
}

TEST(NodeCacheCommandLine, FirstArgumentWithDashMeansRun) {
  EXPECT_EQ(commandLine("nodelocaldns", {"-localip", "169.254.20.10"}),
            (Args{"run", "--localip", "169.254.20.10"}));
  EXPECT_EQ(commandLine("/nodelocaldns", {"--localip=169.254.20.10"}),
            (Args{"run", "--localip=169.254.20.10"}));
  EXPECT_EQ(commandLine("nodelocaldns", {"-setupiptables=false", "-localip=1.2.3.4"}),
            (Args{"run", "--setupiptables=false", "--localip=1.2.3.4"}));
  // Top-level options and subcommands keep the subcommand command line.
  for (const Args& same :
       {Args{"--help"}, Args{"-h"}, Args{"--version"}, Args{"--log-level", "debug", "status"},
        Args{"--log-level=warn", "stop"}, Args{"status"}, Args{}}) {
    EXPECT_EQ(commandLine("nodelocaldns", same), same);
  }
  EXPECT_EQ(commandLine("nodelocaldns", {"--log-level", "debug", "run", "-localip", "1.2.3.4"}),
            (Args{"--log-level", "debug", "run", "--localip", "1.2.3.4"}));
  // CoreDNS's -version.
  EXPECT_EQ(commandLine("nodelocaldns", {"-version"}), Args{"--version"});
  EXPECT_EQ(commandLine("/node-cache", {"-version"}), Args{"--version"});
}

TEST(NodeCacheCommandLine, InvokedAsNodeCacheEverythingWithDashIsRun) {
  EXPECT_EQ(commandLine("/node-cache", {"-h"}), (Args{"run", "-h"}));
  EXPECT_EQ(commandLine("node-cache", {"--help"}), (Args{"run", "--help"}));
  EXPECT_EQ(commandLine("/usr/sbin/node-cache", {}), Args{"run"});
  EXPECT_EQ(commandLine("./node-cache", {"--log-level", "debug", "-localip", "1.2.3.4"}),
            (Args{"run", "--log-level", "debug", "--localip", "1.2.3.4"}));
  // A subcommand name still selects that subcommand.
  EXPECT_EQ(commandLine("/node-cache", {"status"}), Args{"status"});
  // Only that exact basename.
  EXPECT_EQ(commandLine("/node-cache-old", {"-h"}), Args{"-h"});
  EXPECT_EQ(commandLine("node-cache/nodelocaldns", {"-h"}), Args{"-h"});
}

TEST(NodeCacheCommandLine, UpstreamManifestArgsVerbatimBareAndAsNodeCache) {
  Args args = upstreamManifestArgs();
  ASSERT_EQ(args.size(), 8u);
  ASSERT_EQ(args[0], "-localip");
  for (const char* argv0 : {"/usr/sbin/nodelocaldns", "/node-cache"}) {
    RunFlags f;
    ASSERT_TRUE(parseRun(argv0, args, f)) << argv0;
    EXPECT_EQ(f.localip, "169.254.20.10,10.96.0.10");
    EXPECT_EQ(f.conf, "/etc/Corefile");
    EXPECT_EQ(f.upstreamsvc, "kube-dns-upstream");
    EXPECT_EQ(f.pidfile, "/tmp/node-cache.pid");
    EXPECT_TRUE(f.setupinterface);
    EXPECT_TRUE(f.setupiptables);
    EXPECT_FALSE(f.skipteardown);
    EXPECT_EQ(f.health_port, "8080");
    EXPECT_EQ(f.basecorefile, "/etc/coredns/Corefile.base");
    auto config = toRunConfig(f);
    EXPECT_TRUE(config) << config.error().message();
  }
}

TEST(NodeCacheCommandLine, KopsAndKubesprayEqualsFormsAndGoBools) {
  // kOps: every flag as -flag=value.
  Args kops = {"-localip=169.254.20.10,100.64.0.10",
               "-conf=/etc/Corefile",
               "-upstreamsvc=kube-dns-upstream",
               "-setupiptables=false",
               "-setupinterface=F",
               "-syncinterval=30ns",
               "-health-port=8081",
               "-dns.port=5353"};
  // kubespray's second (HA) instance: bools with =true/=false, mixed with -flag value.
  Args kubespray = {"-localip",
                    "169.254.25.10",
                    "-conf",
                    "/etc/coredns/Corefile",
                    "-upstreamsvc",
                    "coredns",
                    "-skipteardown=true",
                    "-setupinterface=false",
                    "-setupiptables=FALSE",
                    "-health-port",
                    "9254"};
  // Go's flag package takes two dashes as well.
  Args dashes = {"--localip=169.254.20.10", "--conf",
                 "/etc/Corefile",           "--setupiptables=0",
                 "--skipteardown",          "--metrics-listen-address=127.0.0.1:9353"};
  for (const char* argv0 : {"nodelocaldns", "/node-cache"}) {
    RunFlags f;
    ASSERT_TRUE(parseRun(argv0, kops, f));
    EXPECT_EQ(f.localip, "169.254.20.10,100.64.0.10");
    EXPECT_EQ(f.conf, "/etc/Corefile");
    EXPECT_EQ(f.upstreamsvc, "kube-dns-upstream");
    EXPECT_FALSE(f.setupiptables);
    EXPECT_FALSE(f.setupinterface);
    EXPECT_EQ(f.syncinterval, "30ns");
    EXPECT_EQ(f.health_port, "8081");
    EXPECT_EQ(f.dns_port, "5353");
    EXPECT_TRUE(toRunConfig(f));

    RunFlags k;
    ASSERT_TRUE(parseRun(argv0, kubespray, k));
    EXPECT_EQ(k.localip, "169.254.25.10");
    EXPECT_EQ(k.conf, "/etc/coredns/Corefile");
    EXPECT_EQ(k.upstreamsvc, "coredns");
    EXPECT_TRUE(k.skipteardown);
    EXPECT_FALSE(k.setupinterface);
    EXPECT_FALSE(k.setupiptables);
    EXPECT_EQ(k.health_port, "9254");

    RunFlags d;
    ASSERT_TRUE(parseRun(argv0, dashes, d));
    EXPECT_EQ(d.localip, "169.254.20.10");
    EXPECT_FALSE(d.setupiptables);
    EXPECT_TRUE(d.skipteardown);
    EXPECT_EQ(d.metrics_listen_address, "127.0.0.1:9353");
  }
}

TEST(NodeCacheCommandLine, BadFlagsAreParseErrors) {
  for (const Args& bad : {Args{"-localip", "1.2.3.4", "-nosuchflag"},
                          Args{"-localip", "1.2.3.4", "-setupiptables=maybe"},
                          Args{"-localip", "1.2.3.4", "stray"}, Args{"-conf"}}) {
    RunFlags f;
    EXPECT_THROW(parseRun("nodelocaldns", bad, f), CLI::ParseError) << bad.back();
  }
}

}  // namespace
}  // namespace nld::cli
