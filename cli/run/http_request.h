// The request parser of `run`'s HTTP endpoints (/health, /ready, /metrics): a pure function of
// the bytes received so far, so it is unit-tested and fuzzed apart from the sockets
// (tests/fuzz/fuzz_http_request.cc).
//
// What it accepts: a request line `METHOD SP target [SP HTTP/d.d]`, then header lines (not
// interpreted: the endpoints need none), ended by the first empty line ("\r\n\r\n", "\n\n" or a
// mix); or, when the peer has closed its side (`eof`), whatever arrived (HTTP/0.9 style). The
// head counts against `max_bytes` including its empty line. The result only ever changes from
// kNeedMore: once it is kComplete, kBadRequest or kTooLarge for some bytes, it is the same for
// every longer input that starts with them, so the server may parse its buffer again after each
// read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace nld::cli {

enum class HttpParseStatus : uint8_t {
  kNeedMore,    ///< no empty line yet, under max_bytes, peer still open
  kComplete,    ///< `method` and `path` are set
  kBadRequest,  ///< the request line is not `METHOD SP target [SP HTTP/d.d]`
  kTooLarge,    ///< max_bytes arrived without an empty line
};

struct HttpRequest {
  HttpParseStatus status = HttpParseStatus::kNeedMore;
  std::string method;  ///< a token of at most kMaxHttpMethod characters
  std::string path;    ///< the target up to '?' or '#' (non-empty)
};

inline constexpr size_t kMaxHttpMethod = 16;

HttpRequest parseHttpRequest(std::string_view bytes, size_t max_bytes, bool eof);

}  // namespace nld::cli
