// Docs stay in sync with the CLI. The CLI's own --help is the source of truth: every subcommand it
// lists and every flag of `nodelocaldns <cmd> --help` must appear in man/nodelocaldns.8 (inside
// that subcommand's .SS block) and in completions/{nodelocaldns.bash,_nodelocaldns,
// nodelocaldns.fish}; the bash and fish completions must actually offer them.
#include <algorithm>
#include <cctype>
#include <sstream>
#include <string>
#include <vector>

#include "base/atomic_file.h"
#include "tests/support/netns.h"

namespace nld::test {
namespace {

std::string binary() { return binaryPath("nodelocaldns"); }

std::string mustRead(const std::string& relative) {
  auto text = readFile(sourcePath(relative));
  EXPECT_TRUE(text.has_value()) << relative;
  return text.value_or("");
}

/// CLI11 help: the first token of each entry in the "Options:" / "Subcommands:" section.
std::vector<std::string> section(const std::string& help, const std::string& title) {
  std::vector<std::string> out;
  std::istringstream in(help);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line == title + ":") {
      inside = true;
      continue;
    }
    if (!inside) continue;
    if (line.empty() || line[0] != ' ') {
      if (!out.empty() || !line.empty()) break;
      continue;
    }
    std::istringstream words(line);
    std::string first;
    words >> first;
    if (!first.empty()) out.push_back(first);
  }
  return out;
}

/// "-h,--help" → {"-h", "--help"}.
std::vector<std::string> flags(const std::string& help) {
  std::vector<std::string> out;
  for (const auto& entry : section(help, "Options")) {
    std::istringstream parts(entry);
    std::string flag;
    while (std::getline(parts, flag, ',')) {
      if (flag.starts_with("-")) out.push_back(flag);
    }
  }
  return out;
}

std::string help(const std::string& args) {
  auto r = run(binary() + " " + args + " --help");
  EXPECT_EQ(r.exit_code, 0) << args << ": " << r.out;
  return r.out;
}

std::vector<std::string> subcommands() { return section(help(""), "Subcommands"); }

bool wordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-'; }

/// `word` occurs in text with no letter, digit or '-' right before or after it.
bool hasWord(const std::string& text, const std::string& word) {
  for (size_t pos = text.find(word); pos != std::string::npos; pos = text.find(word, pos + 1)) {
    bool before = pos > 0 && wordChar(text[pos - 1]);
    size_t end = pos + word.size();
    bool after = end < text.size() && wordChar(text[end]);
    if (!before && !after) return true;
  }
  return false;
}

/// The man page as plain words: "\-" → "-", font escapes removed.
std::string manText() {
  std::string man = mustRead("man/nodelocaldns.8");
  std::string out;
  for (size_t i = 0; i < man.size(); ++i) {
    if (man[i] == '\\' && i + 1 < man.size()) {
      if (man[i + 1] == '-') {
        out += '-';
        ++i;
        continue;
      }
      if (man[i + 1] == 'f' && i + 2 < man.size()) {
        i += 2;
        continue;
      }
    }
    out += man[i];
  }
  return out;
}

/// The ".SS <name>" block of the man page, up to the next .SS or .SH.
std::string manBlock(const std::string& man, const std::string& name) {
  size_t begin = man.find("\n.SS " + name + "\n");
  if (begin == std::string::npos) return "";
  size_t end = man.find("\n.S", begin + 1);
  return man.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

/// How fish names a flag: "--kube-dns" → "-l kube-dns", "-o" → "-s o", "-localip" → "-o localip".
/// Single-dash long flags (node-cache's "-localip", taken by `run`) are fish's old-style "-o".
std::string fishOption(const std::string& flag) {
  if (flag.starts_with("--")) return "-l";
  return flag.size() == 2 ? "-s" : "-o";
}
std::string fishName(const std::string& flag) { return flag.substr(flag.find_first_not_of('-')); }
std::string fishFlag(const std::string& flag) { return fishOption(flag) + " " + fishName(flag); }

/// A `complete` line (continuations joined) for subcommand `sub` that names `flag`.
bool fishHasFlag(const std::string& fish, const std::string& sub, const std::string& flag) {
  std::string joined;
  for (size_t i = 0; i < fish.size(); ++i) {
    if (fish[i] == '\\' && i + 1 < fish.size() && fish[i + 1] == '\n') {
      ++i;
      continue;
    }
    joined += fish[i];
  }
  std::istringstream in(joined);
  for (std::string line; std::getline(in, line);) {
    if (line.find("__fish_seen_subcommand_from " + sub + "'") == std::string::npos &&
        line.find("__fish_seen_subcommand_from " + sub + " ") == std::string::npos) {
      continue;
    }
    std::string name = fishName(flag);
    std::string opt = fishOption(flag);
    if (hasWord(line, opt + " " + name) || hasWord(line, opt + "=" + name)) return true;
  }
  return false;
}

std::vector<std::string> bashComplete(const std::string& words, int cword) {
  auto r = run("bash -c 'source " + sourcePath("completions/nodelocaldns.bash") + "; COMP_WORDS=(" +
               words + "); COMP_CWORD=" + std::to_string(cword) +
               "; _nodelocaldns; printf \"%s\\n\" \"${COMPREPLY[@]}\"'");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::vector<std::string> out;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(line);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool have(const std::string& tool) { return run("command -v " + tool).exit_code == 0; }

TEST(DocsSync, HelpListsSubcommands) {
  auto subs = subcommands();
  EXPECT_FALSE(subs.empty());
  EXPECT_NE(std::find(subs.begin(), subs.end(), "render-manifest"), subs.end());
}

TEST(DocsSync, ManPageCoversEverySubcommandAndFlag) {
  std::string man = manText();
  for (const char* heading : {"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SUBCOMMANDS",
                              "EXIT STATUS", "FILES", "EXAMPLES", "SEE ALSO"}) {
    EXPECT_NE(man.find(std::string("\n.SH ") + heading + "\n"), std::string::npos) << heading;
  }
  for (const auto& flag : flags(help(""))) {
    EXPECT_TRUE(hasWord(man, flag)) << "global flag " << flag << " not in man/nodelocaldns.8";
  }
  for (const auto& sub : subcommands()) {
    std::string block = manBlock(man, sub);
    ASSERT_FALSE(block.empty()) << "no '.SS " << sub << "' block in man/nodelocaldns.8";
    for (const auto& flag : flags(help(sub))) {
      if (flag == "-h" || flag == "--help") continue;  // documented once, globally
      EXPECT_TRUE(hasWord(block, flag)) << sub << " " << flag << " not in its man block";
    }
  }
}

TEST(DocsSync, CompletionsCoverEverySubcommandAndFlag) {
  std::string bash = mustRead("completions/nodelocaldns.bash");
  std::string zsh = mustRead("completions/_nodelocaldns");
  std::string fish = mustRead("completions/nodelocaldns.fish");
  for (const auto& flag : flags(help(""))) {
    EXPECT_TRUE(hasWord(bash, flag)) << "bash: global " << flag;
    EXPECT_TRUE(hasWord(zsh, flag)) << "zsh: global " << flag;
    EXPECT_NE(fish.find(fishFlag(flag)), std::string::npos) << "fish: global " << flag;
  }
  for (const auto& sub : subcommands()) {
    EXPECT_TRUE(hasWord(bash, sub)) << "bash: " << sub;
    EXPECT_TRUE(hasWord(zsh, sub)) << "zsh: " << sub;
    EXPECT_NE(fish.find("-a " + sub), std::string::npos) << "fish: " << sub;
    for (const auto& flag : flags(help(sub))) {
      EXPECT_TRUE(hasWord(bash, flag)) << "bash: " << sub << " " << flag;
      EXPECT_TRUE(hasWord(zsh, flag)) << "zsh: " << sub << " " << flag;
      if (flag == "-h" || flag == "--help") continue;  // fish offers --help itself
      EXPECT_TRUE(fishHasFlag(fish, sub, flag)) << "fish: " << sub << " " << flag;
    }
  }
}

TEST(DocsSync, BashCompletesSubcommandsFlagsAndModes) {
  auto subs = subcommands();
  std::sort(subs.begin(), subs.end());
  EXPECT_EQ(bashComplete("nodelocaldns \"\"", 1), subs);
  for (const auto& sub : subcommands()) {
    auto offered = bashComplete("nodelocaldns " + sub + " -", 2);
    for (const auto& flag : flags(help(sub))) {
      EXPECT_NE(std::find(offered.begin(), offered.end(), flag), offered.end())
          << "bash does not offer " << sub << " " << flag;
    }
  }
  EXPECT_EQ(bashComplete("nodelocaldns render-manifest --mode \"\"", 3),
            (std::vector<std::string>{"iptables", "ipvs", "nftables"}));
  EXPECT_EQ(bashComplete("nodelocaldns --log-level debug render-manifest --mode ip", 5),
            (std::vector<std::string>{"iptables", "ipvs"}));
  EXPECT_EQ(bashComplete("nodelocaldns render-manifest --only kube", 3),
            (std::vector<std::string>{"kube-dns-upstream"}));
}

TEST(DocsSync, FishCompletesSubcommandsAndFlags) {
  if (!have("fish")) GTEST_SKIP() << "fish not installed (.ci/setup installs it)";
  std::string file = sourcePath("completions/nodelocaldns.fish");
  auto complete = [&](const std::string& line) {
    auto r = run("fish -c 'source " + file + "; complete -C \"" + line + "\"'");
    EXPECT_EQ(r.exit_code, 0) << r.out;
    return r.out;
  };
  std::string top = complete("nodelocaldns ");
  for (const auto& sub : subcommands()) {
    EXPECT_TRUE(hasWord(top, sub)) << "fish does not offer " << sub;
    std::string offered = complete("nodelocaldns " + sub + " --");
    for (const auto& flag : flags(help(sub))) {
      if (flag.starts_with("--")) {
        EXPECT_TRUE(hasWord(offered, flag)) << "fish does not offer " << sub << " " << flag;
      }
    }
  }
  std::string modes = complete("nodelocaldns render-manifest --mode ");
  for (const char* m : {"iptables", "ipvs", "nftables"}) EXPECT_TRUE(hasWord(modes, m)) << m;
}

TEST(DocsSync, CompletionFilesParse) {
  EXPECT_EQ(run("bash -n " + sourcePath("completions/nodelocaldns.bash")).exit_code, 0);
  if (!have("zsh") || !have("fish")) GTEST_SKIP() << "zsh or fish not installed";
  auto zsh = run("zsh -n " + sourcePath("completions/_nodelocaldns"));
  EXPECT_EQ(zsh.exit_code, 0) << zsh.out;
  auto fish = run("fish -n " + sourcePath("completions/nodelocaldns.fish"));
  EXPECT_EQ(fish.exit_code, 0) << fish.out;
}

/// The man page's EXAMPLES commands for `render-manifest`, continuation lines joined.
std::vector<std::string> renderManifestExamples(const std::string& man) {
  size_t begin = man.find("\n.SH EXAMPLES\n");
  size_t end = man.find("\n.SH ", begin + 1);
  std::string examples = man.substr(begin, end - begin);
  std::vector<std::string> out;
  std::string pending;
  std::istringstream in(examples);
  for (std::string line; std::getline(in, line);) {
    if (!pending.empty()) {
      line = pending + line;
      pending.clear();
    }
    if (line.size() >= 2 && line.ends_with("\\e")) {
      pending = line.substr(0, line.size() - 2);
      continue;
    }
    if (line.starts_with("nodelocaldns render-manifest")) out.push_back(line);
  }
  return out;
}

TEST(DocsSync, ManPageRenderManifestExamplesRun) {
  std::string man = manText();
  ASSERT_NE(man.find("\n.SH EXAMPLES\n"), std::string::npos);
  auto examples = renderManifestExamples(man);
  EXPECT_GE(examples.size(), 3U);
  TempDir dir;
  ASSERT_EQ(run("cp " + sourcePath("tests/golden/manifest-upstream.in.yaml") + " " +
                dir.file("nodelocaldns.yaml"))
                .exit_code,
            0);
  for (auto cmd : examples) {
    // Stand-ins for the cluster: a fixed kube-dns IP, and no kubectl (keep what comes before it).
    if (size_t pipe = cmd.find(" | kubectl"); pipe != std::string::npos) cmd.resize(pipe);
    auto r = run("cd " + dir.path() + " && kubedns=10.96.0.10 && " + binary() +
                 cmd.substr(std::string("nodelocaldns").size()) + " >/dev/null");
    EXPECT_EQ(r.exit_code, 0) << cmd << ": " << r.out;
  }
}

TEST(DocsSync, ManPageRendersWithoutWarnings) {
  if (!have("groff")) GTEST_SKIP() << "groff not installed (.ci/setup installs groff-base)";
  auto r = run("groff -ww -z -man " + sourcePath("man/nodelocaldns.8"));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "") << "groff warnings";
}

}  // namespace
}  // namespace nld::test
