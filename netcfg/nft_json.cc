#include "netcfg/nft_json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace nld::netcfg {

namespace {

constexpr int kMaxDepth = 64;

class Parser {
 public:
  explicit Parser(std::string_view text) : s_(text) {}

  Result<JsonValue> document() {
    auto v = value(0);
    if (!v) {
      return v;
    }
    skipSpace();
    if (pos_ != s_.size()) {
      return error("trailing data");
    }
    return v;
  }

 private:
  Error errorAt(std::string_view what) const {
    return Error(Errc::kParse, "JSON: " + std::string(what) + " at offset " + std::to_string(pos_));
  }
  tl::unexpected<Error> error(std::string_view what) const { return tl::unexpected(errorAt(what)); }

  void skipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool consume(std::string_view word) {
    if (s_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  Result<JsonValue> value(int depth) {
    if (depth > kMaxDepth) {
      return error("nesting too deep");
    }
    skipSpace();
    if (pos_ >= s_.size()) {
      return error("unexpected end");
    }
    char c = s_[pos_];
    if (c == '{') {
      return object(depth);
    }
    if (c == '[') {
      return array(depth);
    }
    if (c == '"') {
      auto str = string();
      if (!str) {
        return fail(std::move(str).error());
      }
      return JsonValue(std::move(*str));
    }
    if (consume("true")) {
      return JsonValue(true);
    }
    if (consume("false")) {
      return JsonValue(false);
    }
    if (consume("null")) {
      return JsonValue();
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      return number();
    }
    return error("unexpected character");
  }

  Result<JsonValue> object(int depth) {
    ++pos_;  // '{'
    JsonValue::Object out;
    skipSpace();
    if (consume("}")) {
      return JsonValue(std::move(out));
    }
    while (true) {
      skipSpace();
      if (pos_ >= s_.size() || s_[pos_] != '"') {
        return error("expected a member name");
      }
      auto key = string();
      if (!key) {
        return fail(std::move(key).error());
      }
      skipSpace();
      if (!consume(":")) {
        return error("expected ':'");
      }
      auto v = value(depth + 1);
      if (!v) {
        return v;
      }
      out.insert_or_assign(std::move(*key), std::move(*v));
      skipSpace();
      if (consume("}")) {
        return JsonValue(std::move(out));
      }
      if (!consume(",")) {
        return error("expected ',' or '}'");
      }
    }
  }

  Result<JsonValue> array(int depth) {
    ++pos_;  // '['
    JsonValue::Array out;
    skipSpace();
    if (consume("]")) {
      return JsonValue(std::move(out));
    }
    while (true) {
      auto v = value(depth + 1);
      if (!v) {
        return v;
      }
      out.push_back(std::move(*v));
      skipSpace();
      if (consume("]")) {
        return JsonValue(std::move(out));
      }
      if (!consume(",")) {
        return error("expected ',' or ']'");
      }
    }
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  std::optional<uint32_t> hex4() {
    if (pos_ + 4 > s_.size()) {
      return std::nullopt;
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return std::nullopt;
      }
    }
    return v;
  }

  Result<std::string> string() {
    ++pos_;  // '"'
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') {
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return error("control character in string");
      }
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) {
        break;
      }
      char e = s_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          auto cp = hex4();
          if (!cp) {
            return error("bad \\u escape");
          }
          if (*cp >= 0xd800 && *cp < 0xdc00 && consume("\\u")) {
            auto lo = hex4();
            if (!lo || *lo < 0xdc00 || *lo >= 0xe000) {
              return error("bad surrogate pair");
            }
            *cp = 0x10000 + ((*cp - 0xd800) << 10) + (*lo - 0xdc00);
          }
          appendUtf8(out, *cp);
          break;
        }
        default:
          return error("bad escape");
      }
    }
    return error("unterminated string");
  }

  Result<JsonValue> number() {
    size_t start = pos_;
    bool integral = true;
    if (s_[pos_] == '-') {
      ++pos_;
    }
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c >= '0' && c <= '9') {
        ++pos_;
      } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
        integral = false;
        ++pos_;
      } else {
        break;
      }
    }
    std::string text(s_.substr(start, pos_ - start));
    char* end = nullptr;
    if (integral) {
      errno = 0;
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (end == text.c_str() + text.size() && errno == 0) {
        return JsonValue(static_cast<int64_t>(v));
      }
    }
    double d = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || !std::isfinite(d)) {
      return error("bad number");
    }
    return JsonValue(d);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<int64_t> JsonValue::integer() const noexcept {
  if (const auto* i = std::get_if<int64_t>(&v_)) {
    return *i;
  }
  return std::nullopt;
}

const JsonValue* JsonValue::get(std::string_view key) const noexcept {
  const Object* o = object();
  if (o == nullptr) {
    return nullptr;
  }
  auto it = o->find(key);
  return it == o->end() ? nullptr : &it->second;
}

std::optional<std::string_view> JsonValue::getString(std::string_view key) const noexcept {
  const JsonValue* v = get(key);
  if (v == nullptr || v->string() == nullptr) {
    return std::nullopt;
  }
  return std::string_view(*v->string());
}

std::optional<int64_t> JsonValue::getInt(std::string_view key) const noexcept {
  const JsonValue* v = get(key);
  return v == nullptr ? std::nullopt : v->integer();
}

Result<JsonValue> parseJson(std::string_view text) { return Parser(text).document(); }

}  // namespace nld::netcfg
