#include "netcfg/kubelet/kubelet.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "base/atomic_file.h"
#include "tests/support/netns.h"

namespace nld::netcfg {
namespace {

// kubeadm's shape (kubeadm init writes this to /var/lib/kubelet/config.yaml), with comments.
const std::string kKubeadm = R"(apiVersion: kubelet.config.k8s.io/v1beta1
authentication:
  anonymous:
    enabled: false
  webhook:
    cacheTTL: 0s
    enabled: true
  x509:
    clientCAFile: /etc/kubernetes/pki/ca.crt
authorization:
  mode: Webhook
cgroupDriver: systemd
# cluster DNS, set by kubeadm from the Service CIDR
clusterDNS:
- 10.96.0.10   # kube-dns
clusterDomain: cluster.local
containerRuntimeEndpoint: ""
kind: KubeletConfiguration
logging:
  flushFrequency: 0
rotateCertificates: true
staticPodPath: /etc/kubernetes/manifests
)";

std::vector<std::string> values(const Result<std::vector<DnsValueSpan>>& spans) {
  std::vector<std::string> out;
  for (const auto& s : *spans) {
    out.push_back(s.value);
  }
  return out;
}

std::string crlf(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += '\r';
    }
    out += c;
  }
  return out;
}

// Edit to `to`, check only the values changed, then edit back: the original bytes return.
void roundTrip(const std::string& text, const std::vector<std::string>& to,
               KubeletFileKind kind = KubeletFileKind::kConfigYaml) {
  auto spans = findClusterDns(text, kind);
  ASSERT_TRUE(spans) << spans.error().message();
  auto original = values(spans);
  auto edited = replaceClusterDns(text, kind, to);
  ASSERT_TRUE(edited) << edited.error().message();
  auto again = findClusterDns(*edited, kind);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(values(again), to);
  auto back = replaceClusterDns(*edited, kind, original);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, text);
}

TEST(KubeletYaml, FindsKubeadmClusterDns) {
  auto spans = findClusterDnsYaml(kKubeadm);
  ASSERT_TRUE(spans) << spans.error().message();
  ASSERT_EQ(spans->size(), 1u);
  EXPECT_EQ((*spans)[0].value, "10.96.0.10");
  EXPECT_EQ(kKubeadm.substr((*spans)[0].offset, (*spans)[0].length), "10.96.0.10");
}

TEST(KubeletYaml, EditChangesOnlyTheValue) {
  auto edited = replaceClusterDns(kKubeadm, KubeletFileKind::kConfigYaml, {"169.254.20.10"});
  ASSERT_TRUE(edited);
  std::string expect = kKubeadm;
  expect.replace(expect.find("10.96.0.10"), 10, "169.254.20.10");
  EXPECT_EQ(*edited, expect);
  EXPECT_NE(edited->find("- 169.254.20.10   # kube-dns\n"), std::string::npos);
}

TEST(KubeletYaml, RoundTripsKubeadm) { roundTrip(kKubeadm, {"169.254.20.10"}); }

TEST(KubeletYaml, RoundTripsCrlf) {
  std::string text = crlf(kKubeadm);
  roundTrip(text, {"169.254.20.10"});
  auto edited = replaceClusterDns(text, KubeletFileKind::kConfigYaml, {"169.254.20.10"});
  ASSERT_TRUE(edited);
  EXPECT_NE(edited->find("- 169.254.20.10   # kube-dns\r\n"), std::string::npos);
}

TEST(KubeletYaml, FlowListWithSeveralQuotedEntries) {
  std::string text =
      "kind: KubeletConfiguration\n"
      "clusterDNS: [ \"10.96.0.10\",'fd00:10:96::a' ,10.96.0.11]  # dual stack\n"
      "clusterDomain: \"cluster.local\"\n";
  auto spans = findClusterDnsYaml(text);
  ASSERT_TRUE(spans) << spans.error().message();
  EXPECT_EQ(values(spans), (std::vector<std::string>{"10.96.0.10", "fd00:10:96::a", "10.96.0.11"}));
  auto edited = replaceClusterDns(text, KubeletFileKind::kConfigYaml,
                                  {"169.254.20.10", "fd00::10", "169.254.20.10"});
  ASSERT_TRUE(edited);
  EXPECT_EQ(*edited,
            "kind: KubeletConfiguration\n"
            "clusterDNS: [ \"169.254.20.10\",'fd00::10' ,169.254.20.10]  # dual stack\n"
            "clusterDomain: \"cluster.local\"\n");
  roundTrip(text, {"1.1.1.1", "fd00::1", "2.2.2.2"});
}

TEST(KubeletYaml, IndentedBlockListWithCommentsAndUtf8) {
  std::string text =
      "\xEF\xBB\xBF# Kubelet — managed by ops (é)\n"
      "kind: KubeletConfiguration\n"
      "clusterDNS:\n"
      "  # primary\n"
      "  - \"10.96.0.10\"\n"
      "  # secondary\n"
      "  -   fd00::a\n"
      "evictionHard: {memory.available: \"100Mi\"}\n";
  auto spans = findClusterDnsYaml(text);
  ASSERT_TRUE(spans) << spans.error().message();
  EXPECT_EQ(values(spans), (std::vector<std::string>{"10.96.0.10", "fd00::a"}));
  roundTrip(text, {"169.254.20.10", "fd00::10"});
}

TEST(KubeletYaml, NoClusterDnsIsEmpty) {
  auto a = findClusterDnsYaml("kind: KubeletConfiguration\n");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->empty());
  auto b = findClusterDnsYaml("kind: KubeletConfiguration\nclusterDNS: []\n");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->empty());
  auto c = findClusterDnsYaml("");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->empty());
}

TEST(KubeletYaml, MalformedIsAOneLineParseError) {
  const char* bad[] = {
      "kind: KubeletConfiguration\nclusterDNS: [10.96.0.10\nfoo: bar\n",
      "clusterDNS:\n- 10.96.0.10\n  - x: [\n",
      "- just\n- a list\n",
      "clusterDNS: 10.96.0.10\n",
      "clusterDNS:\n- {a: b}\n",
      "x: &dns [10.96.0.10]\nclusterDNS: *dns\n",
      "clusterDNS:\n- \"10.96\\x2e0.10\"\n",
      "clusterDNS:\n- 10.96.0.10\n  continued\n",
  };
  for (const char* text : bad) {
    auto r = findClusterDnsYaml(text);
    if (r) {
      // An alias that points back at the same bytes is harmless; everything else must fail.
      ADD_FAILURE() << "accepted: " << text;
      continue;
    }
    EXPECT_EQ(r.error().code(), Errc::kParse) << text;
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos) << r.error().message();
  }
}

TEST(KubeletYaml, CountMismatchIsRejected) {
  auto r = replaceClusterDns(kKubeadm, KubeletFileKind::kConfigYaml, {"1.1.1.1", "2.2.2.2"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::kInvalidArgument);
  auto bad = replaceClusterDns(kKubeadm, KubeletFileKind::kConfigYaml, {"1.1.1.1 # x"});
  ASSERT_FALSE(bad);
}

TEST(KubeletArgs, FindsAndEditsClusterDnsFlags) {
  std::string text =
      "# --cluster-dns=1.2.3.4 in a comment is ignored\n"
      "KUBELET_EXTRA_ARGS=\"--node-ip=10.0.0.5 --cluster-dns=10.96.0.10,fd00::a "
      "--cluster-dns-x=9 --max-pods=50\"\r\n"
      "OTHER=--cluster-dns 10.96.0.11\n";
  auto spans = findClusterDns(text, KubeletFileKind::kExtraArgs);
  ASSERT_TRUE(spans);
  EXPECT_EQ(values(spans), (std::vector<std::string>{"10.96.0.10", "fd00::a", "10.96.0.11"}));
  roundTrip(text, {"169.254.20.10", "fd00::10", "169.254.20.10"}, KubeletFileKind::kExtraArgs);
  auto edited = replaceClusterDns(text, KubeletFileKind::kExtraArgs,
                                  {"169.254.20.10", "fd00::a", "10.96.0.11"});
  ASSERT_TRUE(edited);
  EXPECT_NE(edited->find("--cluster-dns=169.254.20.10,fd00::a --cluster-dns-x=9"),
            std::string::npos);
}

TEST(KubeletArgs, NoFlagIsEmpty) {
  auto spans = findClusterDns("KUBELET_EXTRA_ARGS=\n", KubeletFileKind::kExtraArgs);
  ASSERT_TRUE(spans);
  EXPECT_TRUE(spans->empty());
}

TEST(PointClusterDnsAt, ReplacesPerFamily) {
  std::vector<IpAddress> local = {*IpAddress::parse("169.254.20.10")};
  EXPECT_EQ(pointClusterDnsAt({"10.96.0.10", "fd00::a"}, local),
            (std::vector<std::string>{"169.254.20.10", "fd00::a"}));
  local.push_back(*IpAddress::parse("fd00::10"));
  EXPECT_EQ(pointClusterDnsAt({"fd00::a", "10.96.0.10"}, local),
            (std::vector<std::string>{"fd00::10", "169.254.20.10"}));
}

TEST(KubeletFile, PlanApplyAndRevertAreByteExact) {
  test::TempDir dir;
  std::string path = dir.file("config.yaml");
  std::string original = crlf(kKubeadm);
  ASSERT_TRUE(writeFileAtomic(path, original));
  auto edit = planKubeletEdit(path, KubeletFileKind::kConfigYaml, {"169.254.20.10"});
  ASSERT_TRUE(edit) << edit.error().message();
  EXPECT_TRUE(edit->changed());
  EXPECT_EQ(edit->before, std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(kubeletDiffText(*edit), "--- " + path + "\n+++ " + path +
                                        "\n@@ line 15 @@\n-- 10.96.0.10   # kube-dns\n"
                                        "+- 169.254.20.10   # kube-dns\n");
  ASSERT_TRUE(applyKubeletEdit(*edit, dir.file("backup")));
  EXPECT_EQ(*readFile(dir.file("backup")), original);
  // Applying the same plan again is refused: the file is no longer what the plan read.
  auto stale = applyKubeletEdit(*edit);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code(), Errc::kBusy);
  auto revert = planKubeletEdit(path, KubeletFileKind::kConfigYaml, edit->before);
  ASSERT_TRUE(revert);
  ASSERT_TRUE(applyKubeletEdit(*revert));
  EXPECT_EQ(*readFile(path), original);
}

TEST(KubeletFile, MalformedFileIsLeftUntouched) {
  test::TempDir dir;
  std::string path = dir.file("config.yaml");
  std::string bad = "kind: KubeletConfiguration\nclusterDNS: [10.96.0.10\n";
  ASSERT_TRUE(writeFileAtomic(path, bad));
  auto edit = planKubeletEdit(path, KubeletFileKind::kConfigYaml, {"169.254.20.10"});
  ASSERT_FALSE(edit);
  EXPECT_NE(edit.error().message().find(path), std::string::npos);
  EXPECT_EQ(*readFile(path), bad);
}

// Mutated configs (bytes flipped, inserted, deleted): never a crash or an exception; either an
// error, or spans that are exactly the values, and an edit that round-trips to the same bytes.
TEST(KubeletYaml, MutatedInputsNeverCrashAndRoundTrip) {
  std::mt19937 rng(5);
  const std::string alphabet = "-:[]{},#'\"&*!|>\n\r\t 0123456789.abcfd";
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = i % 2 ? kKubeadm : crlf(kKubeadm);
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = rng() % text.size();
      char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text[at] = c;
          break;
        case 1:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        default:
          text.erase(at, 1);
      }
    }
    auto spans = findClusterDnsYaml(text);
    if (!spans) {
      EXPECT_EQ(spans.error().message().find('\n'), std::string::npos);
      continue;
    }
    ++parsed;
    std::vector<std::string> original;
    std::vector<std::string> local;
    for (const auto& s : *spans) {
      ASSERT_EQ(text.substr(s.offset, s.length), s.value);
      original.push_back(s.value);
      local.push_back("169.254.20.10");
    }
    auto edited = replaceClusterDns(text, KubeletFileKind::kConfigYaml, local);
    if (!edited) {
      continue;  // e.g. a value the editor refuses to write back; nothing was changed
    }
    auto back = replaceClusterDns(*edited, KubeletFileKind::kConfigYaml, original);
    if (back) {
      EXPECT_EQ(*back, text);
    }
  }
  EXPECT_GT(parsed, 100);
}

}  // namespace
}  // namespace nld::netcfg
