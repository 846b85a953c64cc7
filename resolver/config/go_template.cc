#include "resolver/config/go_template.h"

#include <cctype>
#include <regex>

namespace nld::resolver::config {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])) != 0) {
      ++i;
    }
    if (i >= s.size()) {
      break;
    }
    size_t j = i;
    if (s[i] == '"') {
      j = s.find('"', i + 1);
      j = j == std::string_view::npos ? s.size() : j + 1;
    } else {
      while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j])) == 0) {
        ++j;
      }
    }
    out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool isIdent(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') {
      return false;
    }
  }
  return true;
}

Result<GoTemplate::Piece> action(std::string_view body, std::string_view whole) {
  using F = GoTemplate::Field;
  auto bad = [&]() -> Result<GoTemplate::Piece> {
    return fail(Errc::kInvalidArgument,
                "template: unsupported action '" + std::string(whole) +
                    "' (supported: .Name .Class .Type .Zone .Question, index .Match N, "
                    ".Group.NAME)");
  };
  auto w = words(body);
  GoTemplate::Piece p;
  if (w.size() == 1) {
    static const std::pair<std::string_view, F> kFields[] = {{".Name", F::kName},
                                                             {".Class", F::kClass},
                                                             {".Type", F::kType},
                                                             {".Zone", F::kZone},
                                                             {".Question", F::kQuestion}};
    for (const auto& [n, f] : kFields) {
      if (w[0] == n) {
        p.field = f;
        return p;
      }
    }
    if (w[0].substr(0, 7) == ".Group." && isIdent(w[0].substr(7))) {
      p.field = F::kGroup;
      p.text = std::string(w[0].substr(7));
      return p;
    }
    return bad();
  }
  if (w.size() == 3 && w[0] == "index" && w[1] == ".Match") {
    size_t n = 0;
    for (char c : w[2]) {
      if (std::isdigit(static_cast<unsigned char>(c)) == 0 || n > 1000) {
        return bad();
      }
      n = n * 10 + static_cast<size_t>(c - '0');
    }
    p.field = F::kMatch;
    p.index = n;
    return p;
  }
  if (w.size() == 3 && w[0] == "index" && w[1] == ".Group" && w[2].size() >= 2 &&
      w[2].front() == '"' && w[2].back() == '"') {
    p.field = F::kGroup;
    p.text = std::string(w[2].substr(1, w[2].size() - 2));
    return p;
  }
  return bad();
}

}  // namespace

Result<GoTemplate> GoTemplate::parse(std::string_view text) {
  GoTemplate t;
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) {
      literal += text.substr(i);
      break;
    }
    literal += text.substr(i, open - i);
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return fail(Errc::kInvalidArgument,
                  "template: unclosed action in '" + std::string(text) + "'");
    }
    std::string_view body = text.substr(open + 2, close - open - 2);
    bool trim_left = false, trim_right = false;
    if (body.size() >= 2 && body[0] == '-' && std::isspace(static_cast<unsigned char>(body[1]))) {
      trim_left = true;
      body.remove_prefix(1);
    }
    if (body.size() >= 2 && body.back() == '-' &&
        std::isspace(static_cast<unsigned char>(body[body.size() - 2]))) {
      trim_right = true;
      body.remove_suffix(1);
    }
    body = trim(body);
    if (trim_left) {
      while (!literal.empty() && std::isspace(static_cast<unsigned char>(literal.back())) != 0) {
        literal.pop_back();
      }
    }
    if (!literal.empty()) {
      t.pieces_.push_back({Field::kText, std::move(literal), 0});
      literal.clear();
    }
    if (body.empty() || body.substr(0, 2) == "/*") {
      if (body.empty()) {
        return fail(Errc::kInvalidArgument,
                    "template: missing value for command in '" + std::string(text) + "'");
      }
    } else {
      auto p = action(body, text.substr(open, close + 2 - open));
      if (!p) {
        return fail(std::move(p.error()));
      }
      t.pieces_.push_back(std::move(*p));
    }
    i = close + 2;
    if (trim_right) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i])) != 0) {
        ++i;
      }
    }
  }
  if (!literal.empty()) {
    t.pieces_.push_back({Field::kText, std::move(literal), 0});
  }
  return t;
}

bool GoTemplate::constant() const noexcept {
  for (const auto& p : pieces_) {
    if (p.field != Field::kText) {
      return false;
    }
  }
  return true;
}

Result<std::string> GoTemplate::execute(const Data& d) const {
  std::string out;
  for (const auto& p : pieces_) {
    switch (p.field) {
      case Field::kText:
        out += p.text;
        break;
      case Field::kName:
        out += d.name;
        break;
      case Field::kClass:
        out += d.qclass;
        break;
      case Field::kType:
        out += d.qtype;
        break;
      case Field::kZone:
        out += d.zone;
        break;
      case Field::kQuestion:
        // miekg/dns Question.String()
        out +=
            ";" + std::string(d.name) + "\t" + std::string(d.qclass) + "\t" + std::string(d.qtype);
        break;
      case Field::kMatch:
        if (d.match == nullptr || p.index >= d.match->size()) {
          return fail(
              Errc::kInvalidArgument,
              "template: error calling index: index out of range: " + std::to_string(p.index));
        }
        out += (*d.match)[p.index];
        break;
      case Field::kGroup: {
        bool found = false;
        if (d.groups != nullptr) {
          for (const auto& [k, v] : *d.groups) {
            if (k == p.text) {
              out += v;
              found = true;
              break;
            }
          }
        }
        if (!found) {
          out += "<no value>";
        }
        break;
      }
    }
  }
  return out;
}

Result<GoRegex> translateGoRegex(std::string_view re) {
  GoRegex g;
  g.group_names.emplace_back();
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\') {
      g.ecmascript += c;
      if (i + 1 < re.size()) {
        g.ecmascript += re[++i];
      }
      continue;
    }
    if (in_class) {
      if (c == ']') {
        in_class = false;
      }
      g.ecmascript += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      g.ecmascript += c;
      if (i + 1 < re.size() && re[i + 1] == '^') {
        g.ecmascript += re[++i];
      }
      if (i + 1 < re.size() && re[i + 1] == ']') {
        g.ecmascript += re[++i];
      }
      continue;
    }
    if (c == '(') {
      std::string_view rest = re.substr(i + 1);
      size_t skip = 0;
      if (rest.substr(0, 3) == "?P<") {
        skip = 3;
      } else if (rest.substr(0, 2) == "?<" && rest.substr(0, 3) != "?<=" &&
                 rest.substr(0, 3) != "?<!") {
        skip = 2;
      }
      if (skip != 0) {
        size_t end = rest.find('>', skip);
        if (end == std::string_view::npos || !isIdent(rest.substr(skip, end - skip))) {
          return fail(Errc::kInvalidArgument,
                      "invalid named capture in regexp '" + std::string(re) + "'");
        }
        g.group_names.emplace_back(rest.substr(skip, end - skip));
        g.ecmascript += '(';
        i += end + 1;
        continue;
      }
      if (rest.empty() || rest[0] != '?') {
        g.group_names.emplace_back();
      }
    }
    g.ecmascript += c;
  }
  try {
    std::regex r(g.ecmascript, std::regex::ECMAScript);
    if (r.mark_count() + 1 != g.group_names.size()) {
      return fail(Errc::kInvalidArgument,
                  "unsupported group syntax in regexp '" + std::string(re) + "'");
    }
  } catch (const std::regex_error& e) {
    return fail(Errc::kInvalidArgument,
                "invalid regexp '" + std::string(re) + "' (compiled as ECMAScript): " + e.what());
  }
  return g;
}

}  // namespace nld::resolver::config
