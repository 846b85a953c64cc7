#include "cli/run/http_request.h"

namespace nld::cli {
namespace {

// RFC 9110 tchar.
bool isTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
    return true;
  }
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool isTargetChar(char c) { return c > 0x20 && c < 0x7f; }

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// `line` without its line end. Fills method and path; false when malformed.
bool parseRequestLine(std::string_view line, HttpRequest& out) {
  size_t sp1 = line.find(' ');
  if (sp1 == 0 || sp1 == std::string_view::npos || sp1 > kMaxHttpMethod) {
    return false;
  }
  std::string_view method = line.substr(0, sp1);
  for (char c : method) {
    if (!isTokenChar(c)) {
      return false;
    }
  }
  std::string_view rest = line.substr(sp1 + 1);
  size_t sp2 = rest.find(' ');
  std::string_view target = rest.substr(0, sp2);
  if (target.empty()) {
    return false;
  }
  for (char c : target) {
    if (!isTargetChar(c)) {
      return false;
    }
  }
  if (sp2 != std::string_view::npos) {
    std::string_view version = rest.substr(sp2 + 1);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !isDigit(version[5]) ||
        version[6] != '.' || !isDigit(version[7])) {
      return false;
    }
  }
  std::string_view path = target.substr(0, target.find_first_of("?#"));
  if (path.empty()) {
    return false;
  }
  out.method.assign(method);
  out.path.assign(path);
  return true;
}

std::string_view withoutCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

HttpRequest parseHttpRequest(std::string_view bytes, size_t max_bytes, bool eof) {
  HttpRequest out;
  // Only the first max_bytes count: what follows cannot change the verdict.
  std::string_view head = bytes.substr(0, max_bytes);
  size_t first_nl = head.find('\n');
  if (first_nl != std::string_view::npos) {
    if (!parseRequestLine(withoutCr(head.substr(0, first_nl)), out)) {
      out.status = HttpParseStatus::kBadRequest;
      return out;
    }
    // The head ends at the first empty line after the request line.
    for (size_t start = first_nl + 1; start < head.size();) {
      size_t nl = head.find('\n', start);
      if (nl == std::string_view::npos) {
        break;
      }
      if (withoutCr(head.substr(start, nl - start)).empty()) {
        out.status = HttpParseStatus::kComplete;
        return out;
      }
      start = nl + 1;
    }
  }
  if (bytes.size() >= max_bytes) {
    out = HttpRequest{};
    out.status = HttpParseStatus::kTooLarge;
    return out;
  }
  if (!eof) {
    out = HttpRequest{};
    return out;  // kNeedMore
  }
  if (first_nl == std::string_view::npos && !parseRequestLine(withoutCr(head), out)) {
    out.status = HttpParseStatus::kBadRequest;
    return out;
  }
  out.status = HttpParseStatus::kComplete;
  return out;
}

}  // namespace nld::cli
