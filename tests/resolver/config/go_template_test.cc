#include "resolver/config/go_template.h"

#include <gtest/gtest.h>

#include <regex>

namespace nld::resolver::config {
namespace {

TEST(GoTemplate, ExecutesTheReadmeActions) {
  std::vector<std::string> match = {"ip-10-1-2-3.example.", "1"};
  std::vector<std::pair<std::string, std::string>> groups = {
      {"0", match[0]}, {"1", "1"}, {"b", "1"}};
  GoTemplate::Data d{"ip-10-1-2-3.example.", "IN", "A", "example.", &match, &groups};
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"{{ .Name }} 60 IN A 10.{{ .Group.b }}.0.{{.Group.1}}",
       "ip-10-1-2-3.example. 60 IN A 10.1.0.1"},
      {"{{ index .Match 1 }}/{{ .Zone }}/{{ .Class }}/{{ .Type }}", "1/example./IN/A"},
      {"{{ .Group.0 }}", "ip-10-1-2-3.example."},
      {"{{ index .Group \"b\" }}", "1"},
      {"{{ .Group.missing }}", "<no value>"},
      {"a  {{- .Type -}}  b", "aAb"},
      {"{{ .Question }}", ";ip-10-1-2-3.example.\tIN\tA"},
      {"no actions", "no actions"},
  };
  for (const auto& c : cases) {
    auto t = GoTemplate::parse(c.in);
    ASSERT_TRUE(t) << c.in << ": " << t.error().message();
    auto r = t->execute(d);
    ASSERT_TRUE(r) << c.in;
    EXPECT_EQ(*r, c.out) << c.in;
  }
  auto t = GoTemplate::parse("{{ index .Match 5 }}");
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->execute(d));
}

TEST(GoTemplate, AnythingElseIsAnError) {
  for (const char* in : {"{{ .Meta \"k8s/ns\" }}", "{{ $x := 1 }}", "{{ .Name | upper }}",
                         "{{ if .Name }}x{{ end }}", "{{ .Remote }}", "{{ .Message }}",
                         "{{ index .Match x }}", "{{ .Name", "{{}}"}) {
    EXPECT_FALSE(GoTemplate::parse(in)) << in;
  }
}

TEST(GoRegex, NamedGroupsBecomeNumberedOnes) {
  auto g = translateGoRegex(
      "^(?P<d>[0-9]*)[.](?:x|y)?(?P<c>[(]?)\\((?P<b>[0-9]*)[.](?<a>[0-9]*)[.]in-addr[.]arpa[.]$");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->group_names, (std::vector<std::string>{"", "d", "c", "b", "a"}));
  std::regex re(g->ecmascript);
  std::smatch m;
  std::string s = "4.x(3.2.in-addr.arpa.";
  ASSERT_TRUE(std::regex_search(s, m, re));
  EXPECT_EQ(m[1].str(), "4");
  EXPECT_EQ(m[3].str(), "3");
  EXPECT_EQ(m[4].str(), "2");
  EXPECT_FALSE(translateGoRegex("(unclosed"));
  EXPECT_FALSE(translateGoRegex("(?P<bad-name>x)"));
}

}  // namespace
}  // namespace nld::resolver::config
