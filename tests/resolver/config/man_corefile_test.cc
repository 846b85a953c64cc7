// The Corefile examples in man/nodelocaldns.8 (section COREFILE) must parse: documentation that
// is tested stays true (CoreDNS test/readme_test.go does the same for its READMEs).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "resolver/config/config.h"
#include "tests/support/netns.h"

namespace nld::resolver::config {
namespace {

std::string unroff(std::string line) {
  std::string out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '\\' && i + 1 < line.size()) {
      char c = line[i + 1];
      if (c == '-' || c == 'e' || c == '&') {
        if (c == '-') {
          out.push_back('-');
        } else if (c == 'e') {
          out.push_back('\\');
        }
        ++i;
        continue;
      }
    }
    out.push_back(line[i]);
  }
  return out;
}

std::vector<std::string> corefileExamples(const std::string& man) {
  std::istringstream in(man);
  std::vector<std::string> examples;
  std::string line, current;
  bool in_section = false, in_example = false;
  while (std::getline(in, line)) {
    if (line.rfind(".SH ", 0) == 0) {
      in_section = line == ".SH COREFILE";
      continue;
    }
    if (!in_section) {
      continue;
    }
    if (line == ".EX") {
      in_example = true;
      current.clear();
    } else if (line == ".EE") {
      in_example = false;
      examples.push_back(current);
    } else if (in_example) {
      current += unroff(line) + "\n";
    }
  }
  return examples;
}

TEST(ManPage, CorefileExamplesParse) {
  std::ifstream in(test::sourcePath("man/nodelocaldns.8"));
  ASSERT_TRUE(in) << "man/nodelocaldns.8 not found";
  std::stringstream ss;
  ss << in.rdbuf();
  auto examples = corefileExamples(ss.str());
  ASSERT_FALSE(examples.empty()) << "no .EX block in section COREFILE";
  ParseOptions o;
  o.read_file = [](const std::string& path) -> Result<std::string> {
    if (path == "/etc/resolv.conf") {
      return std::string("nameserver 192.0.2.1\n");
    }
    return fail(Errc::kNotFound, "no " + path);
  };
  for (const auto& text : examples) {
    auto c = parseCorefile(text, "nodelocaldns.8", o);
    EXPECT_TRUE(c) << c.error().message() << "\n" << text;
  }
}

}  // namespace
}  // namespace nld::resolver::config
