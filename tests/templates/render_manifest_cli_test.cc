// render-manifest through the built binary: output, -o, and bad input (exit 2, one line on
// stderr, -o FILE neither created nor touched).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/atomic_file.h"
#include "templates/templates.h"
#include "tests/support/netns.h"

namespace nld::templates {
namespace {

std::string binary() { return test::binaryPath("nodelocaldns"); }

struct Outcome {
  int exit_code;
  std::string out;
  std::string err;
};

Outcome render(const std::string& args) {
  test::TempDir dir;
  // A subshell, so test::run's own stderr capture does not override ours.
  auto r = test::run("(" + binary() + " render-manifest " + args + " >" + dir.file("out") + " 2>" +
                     dir.file("err") + ")");
  return {r.exit_code, readFile(dir.file("out")).value_or(""),
          readFile(dir.file("err")).value_or("")};
}

TEST(RenderManifestCli, PrintsTheValidatedManifest) {
  auto o = render("--kube-dns 10.96.0.10");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.err, "");
  ManifestParams p;
  p.kube_dns = *IpAddress::parse("10.96.0.10");
  EXPECT_EQ(o.out, renderManifest(p, manifestTemplate()).value());
}

TEST(RenderManifestCli, WritesOutputFile) {
  test::TempDir dir;
  std::string file = dir.file("nodelocaldns.yaml");
  auto o =
      render("--kube-dns fd00::a --local-ip fd00::10 --mode ipvs --domain corp.example -o " + file);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out, "");
  auto text = readFile(file);
  ASSERT_TRUE(text.has_value());
  EXPECT_TRUE(validateManifest(*text, ProxyMode::kIpvs).has_value());
  EXPECT_NE(text->find("corp.example:53 {"), std::string::npos);
  EXPECT_NE(text->find("health [fd00::10]:8080"), std::string::npos);
}

TEST(RenderManifestCli, OnlyPrintsOneObject) {
  auto o = render("--kube-dns 10.96.0.10 --only kube-dns-upstream");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.out.find("kind: Service\n"), o.out.find("kind:"));
  EXPECT_NE(o.out.find("name: kube-dns-upstream"), std::string::npos);
  EXPECT_EQ(o.out.find("DaemonSet"), std::string::npos);
}

TEST(RenderManifestCli, RendersTheUpstreamManifest) {
  auto o = render("--kube-dns 10.96.0.10 --template " +
                  test::sourcePath("tests/golden/manifest-upstream.in.yaml"));
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("registry.k8s.io/dns/k8s-dns-node-cache"), std::string::npos);
  EXPECT_NE(o.out.find("\"169.254.20.10,10.96.0.10\""), std::string::npos);
}

TEST(RenderManifestCli, BadInputExitsTwoWithOneLineAndLeavesOutputAlone) {
  test::TempDir dir;
  std::string bad_template = dir.file("bad.yaml");
  ASSERT_TRUE(writeFileAtomic(bad_template, "kind: [\n__PILLAR__LOCAL__DNS__\n").has_value());
  const std::vector<std::string> cases = {
      "--kube-dns 10.96.0",                                    // invalid IP
      "--kube-dns 10.96.0.10 --local-ip 169.254.20.300",       // invalid local IP
      "--kube-dns 10.96.0.10 --domain bad_domain",             // RFC 1123
      "--kube-dns 10.96.0.10 --domain 'a/b'",                  // would break sed
      "--kube-dns 10.96.0.10 --mode userspace",                // mode
      "--kube-dns 10.96.0.10 --template " + bad_template,      // not YAML
      "--kube-dns 10.96.0.10 --template " + dir.file("none"),  // missing template
      "--kube-dns 10.96.0.10 --only nope",                     // unknown object
      "--kube-dns fd00::a",                                    // family mismatch with default
      "--domain cluster.local",                                // --kube-dns missing
      "--kube-dns 10.96.0.10 --bogus",                         // unknown flag
  };
  for (const auto& args : cases) {
    for (bool existing : {false, true}) {
      std::string out = dir.file("out.yaml");
      ::unlink(out.c_str());
      if (existing) {
        ASSERT_TRUE(writeFileAtomic(out, "previous\n").has_value());
        ::utimensat(AT_FDCWD, out.c_str(), nullptr, 0);
      }
      struct stat before {};
      ::stat(out.c_str(), &before);
      auto o = render(args + " -o " + out);
      EXPECT_EQ(o.exit_code, 2) << args << ": " << o.err;
      EXPECT_EQ(o.out, "") << args;
      EXPECT_TRUE(o.err.starts_with("nodelocaldns: error: ")) << args << ": " << o.err;
      EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << args << ": " << o.err;
      struct stat after {};
      if (existing) {
        ASSERT_EQ(::stat(out.c_str(), &after), 0) << args;
        EXPECT_EQ(readFile(out).value_or(""), "previous\n") << args;
        EXPECT_EQ(after.st_ino, before.st_ino) << args;
        EXPECT_EQ(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec) << args;
      } else {
        EXPECT_NE(::stat(out.c_str(), &after), 0) << args << ": -o file was created";
      }
    }
  }
}

}  // namespace
}  // namespace nld::templates
