#include "resolver/config/corefile_lexer.h"

namespace nld::resolver::config::detail {

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

Result<std::vector<Token>> lexCorefile(std::string_view text, std::string_view filename) {
  std::vector<Token> tokens;
  int line = 1;
  size_t i = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // an editor's UTF-8 BOM is not a key
  const size_t n = text.size();
  while (i < n) {
    char c = text[i];
    if (isSpace(c)) {
      if (c == '\n') {
        ++line;
      }
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < n && text[i] != '\n') {
        ++i;
      }
      continue;
    }
    Token tok;
    tok.line = line;
    if (c == '"') {
      tok.quoted = true;
      ++i;
      bool closed = false;
      while (i < n) {
        char q = text[i++];
        if (q == '\\' && i < n && text[i] == '"') {
          tok.text.push_back('"');
          ++i;
          continue;
        }
        if (q == '"') {
          closed = true;
          break;
        }
        if (q == '\n') {
          ++line;
        }
        tok.text.push_back(q);
      }
      if (!closed) {
        return fail(Errc::kParse, std::string(filename) + ":" + std::to_string(tok.line) +
                                      ": unterminated quoted string");
      }
      tokens.push_back(std::move(tok));
      continue;
    }
    // A bare word runs to whitespace or a comment (caddy: '#' anywhere starts a comment).
    while (i < n && !isSpace(text[i]) && text[i] != '#') {
      tok.text.push_back(text[i++]);
    }
    tokens.push_back(std::move(tok));
  }
  return tokens;
}

std::string replaceEnvVars(std::string_view text, const EnvLookup& env) {
  auto pass = [&](std::string_view s, std::string_view open, std::string_view close) {
    std::string out;
    size_t pos = 0;
    while (pos < s.size()) {
      size_t start = s.find(open, pos);
      if (start == std::string_view::npos) {
        break;
      }
      size_t end = s.find(close, start + open.size());
      if (end == std::string_view::npos || end == start + open.size()) {
        break;  // no reference (or an empty name): the rest is literal
      }
      out.append(s.substr(pos, start - pos));
      std::string name(s.substr(start + open.size(), end - start - open.size()));
      if (env) {
        if (auto v = env(name)) {
          out.append(*v);
        }
      }
      pos = end + close.size();
    }
    out.append(s.substr(pos));
    return out;
  };
  if (text.find('{') == std::string_view::npos) {
    return std::string(text);
  }
  std::string first = pass(text, "{%", "%}");
  return pass(first, "{$", "}");
}

}  // namespace nld::resolver::config::detail
