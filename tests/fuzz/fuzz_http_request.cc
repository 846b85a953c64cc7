// libFuzzer target: cli/run/http_request's parseHttpRequest() — the bytes any pod can send to
// the health port — must never crash or read out of bounds, and its verdict must be consistent:
// a complete request has a token method and a non-empty path of visible characters without a
// query, copied from the input; kTooLarge only at the cap; a verdict other than kNeedMore does
// not change when more bytes follow (the server parses its buffer again after every read).
// The first input byte picks the head cap (16..4096 bytes) and eof; the rest is the request.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cli/run/http_request.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

using nld::cli::HttpParseStatus;
using nld::cli::HttpRequest;

bool same(const HttpRequest& a, const HttpRequest& b) {
  return a.status == b.status && a.method == b.method && a.path == b.path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const size_t cap = 16 + (size_t{data[0]} << 4);
  const bool eof = (data[0] & 1) != 0;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  HttpRequest r = nld::cli::parseHttpRequest(bytes, cap, eof);
  switch (r.status) {
    case HttpParseStatus::kComplete: {
      check(!r.method.empty() && r.method.size() <= nld::cli::kMaxHttpMethod);
      check(!r.path.empty());
      for (char c : r.path) {
        check(c > 0x20 && c < 0x7f && c != '?' && c != '#');
      }
      // The request line is the start of the input: METHOD SP path.
      std::string line = r.method + " " + r.path;
      check(bytes.substr(0, line.size()) == line);
      check(bytes.size() < cap || bytes.substr(0, cap).find('\n') != std::string_view::npos);
      break;
    }
    case HttpParseStatus::kTooLarge:
      check(bytes.size() >= cap);
      break;
    case HttpParseStatus::kNeedMore:
      check(!eof && bytes.size() < cap);
      break;
    case HttpParseStatus::kBadRequest:
      break;
  }
  check(r.status == HttpParseStatus::kComplete || (r.method.empty() && r.path.empty()));

  if (!eof) {
    // Stable once decided: every prefix that was decided gives the same answer as the whole.
    for (size_t len : {bytes.size() / 2, bytes.size() / 3, bytes.size() - bytes.size() / 4}) {
      HttpRequest p = nld::cli::parseHttpRequest(bytes.substr(0, len), cap, false);
      check(p.status == HttpParseStatus::kNeedMore || same(p, r));
    }
  }
  return 0;
}
