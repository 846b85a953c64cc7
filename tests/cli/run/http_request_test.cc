#include "cli/run/http_request.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace nld::cli {
namespace {

using S = HttpParseStatus;
using namespace std::string_literals;

struct Case {
  const char* name;
  std::string bytes;
  bool eof;
  S status;
  const char* method;
  const char* path;
};

TEST(HttpRequestParser, Table) {
  const Case cases[] = {
      {"kubelet",
       "GET /health HTTP/1.1\r\nHost: 169.254.20.10:8080\r\nUser-Agent: kube-probe/1.31"
       "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
       false, S::kComplete, "GET", "/health"},
      {"query and fragment cut", "GET /metrics?x=1#y HTTP/1.0\r\n\r\n", false, S::kComplete, "GET",
       "/metrics"},
      {"bare newlines", "HEAD /ready HTTP/1.0\n\n", false, S::kComplete, "HEAD", "/ready"},
      {"mixed line ends", "GET / HTTP/1.0\r\nA: b\n\r\n", false, S::kComplete, "GET", "/"},
      {"other method parses (server says 405)", "POST /health HTTP/1.1\r\n\r\n", false,
       S::kComplete, "POST", "/health"},
      {"HTTP/0.9 line at eof", "GET /health", true, S::kComplete, "GET", "/health"},
      {"line without empty line at eof", "GET /health HTTP/1.0\r\nHost: a\r\n", true, S::kComplete,
       "GET", "/health"},
      {"body after head ignored", "GET /x HTTP/1.1\r\n\r\ngarbage\x01", false, S::kComplete, "GET",
       "/x"},
      {"nothing yet", "", false, S::kNeedMore, "", ""},
      {"partial line", "GET /hea", false, S::kNeedMore, "", ""},
      {"headers still coming", "GET / HTTP/1.1\r\nHost: a\r\n", false, S::kNeedMore, "", ""},
      {"no space", "garbage\r\n\r\n", false, S::kBadRequest, "", ""},
      {"decided at the first line end", "garbage\r\n", false, S::kBadRequest, "", ""},
      {"empty first line", "\r\n\r\n", false, S::kBadRequest, "", ""},
      {"two spaces", "GET  /x HTTP/1.0\r\n\r\n", false, S::kBadRequest, "", ""},
      {"bad version", "GET /x HTTP/11\r\n\r\n", false, S::kBadRequest, "", ""},
      {"trailing words", "GET /x HTTP/1.0 extra\r\n\r\n", false, S::kBadRequest, "", ""},
      {"control char in target", std::string("GET /a\x01 HTTP/1.0\r\n\r\n"), false, S::kBadRequest,
       "", ""},
      {"NUL in target", "GET /a\0b HTTP/1.0\r\n\r\n"s, false, S::kBadRequest, "", ""},
      {"non-token method", "G(T / HTTP/1.0\r\n\r\n", false, S::kBadRequest, "", ""},
      {"method too long", "ABCDEFGHIJKLMNOPQ / HTTP/1.0\r\n\r\n", false, S::kBadRequest, "", ""},
      {"target only a query", "GET ?x HTTP/1.0\r\n\r\n", false, S::kBadRequest, "", ""},
      {"empty at eof", "", true, S::kBadRequest, "", ""},
      {"garbage at eof", "hello", true, S::kBadRequest, "", ""},
  };
  for (const Case& c : cases) {
    HttpRequest r = parseHttpRequest(c.bytes, 8192, c.eof);
    EXPECT_EQ(r.status, c.status) << c.name;
    EXPECT_EQ(r.method, c.method) << c.name;
    EXPECT_EQ(r.path, c.path) << c.name;
  }
}

TEST(HttpRequestParser, HeadCapCountsTheEmptyLine) {
  std::string head = "GET /health HTTP/1.1\r\nX: " + std::string(100, 'a') + "\r\n\r\n";
  EXPECT_EQ(parseHttpRequest(head, head.size(), false).status, S::kComplete);
  EXPECT_EQ(parseHttpRequest(head, head.size() - 1, false).status, S::kTooLarge);
  // Under the cap and unfinished: wait; at the cap: too large, also with more bytes behind.
  std::string part = head.substr(0, 60);
  EXPECT_EQ(parseHttpRequest(part, 61, false).status, S::kNeedMore);
  EXPECT_EQ(parseHttpRequest(part, 60, false).status, S::kTooLarge);
  EXPECT_EQ(parseHttpRequest(part + "\r\n\r\n", 60, false).status, S::kTooLarge);
  // A request line longer than the cap.
  EXPECT_EQ(parseHttpRequest("GET /" + std::string(200, 'x'), 100, false).status, S::kTooLarge);
}

// The server parses its whole buffer again after every read: a verdict other than kNeedMore
// must not change when more bytes arrive, whatever the split.
TEST(HttpRequestParser, VerdictStableUnderEverySplit) {
  const std::string inputs[] = {
      "GET /health HTTP/1.1\r\nHost: a\r\n\r\nGET /other HTTP/1.1\r\n\r\n",
      "garbage\r\nmore\r\n\r\n",
      "GET /x HTTP/1.0\n\n\n",
      "GET /" + std::string(50, 'y') + " HTTP/1.0\r\n\r\n",
  };
  for (const std::string& in : inputs) {
    for (size_t cap : {size_t{16}, size_t{40}, size_t{8192}}) {
      std::optional<HttpRequest> first;
      for (size_t len = 0; len <= in.size(); ++len) {
        HttpRequest r = parseHttpRequest(std::string_view(in).substr(0, len), cap, false);
        if (first) {
          EXPECT_EQ(r.status, first->status) << in << " cap " << cap << " len " << len;
          EXPECT_EQ(r.path, first->path);
        } else if (r.status != S::kNeedMore) {
          first = r;
        }
      }
      EXPECT_TRUE(first.has_value()) << in << " cap " << cap;
    }
  }
}

}  // namespace
}  // namespace nld::cli
