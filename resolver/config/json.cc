#include "resolver/config/json.h"

#include <cstdlib>

namespace nld::resolver::config::detail {

namespace {

constexpr int kMaxDepth = 64;

class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  Result<JsonValue> document() {
    auto v = value(0);
    if (!v) {
      return v;
    }
    ws();
    if (pos_ != s_.size()) {
      return bad("unexpected text after the value");
    }
    return v;
  }

 private:
  tl::unexpected<Error> bad(const std::string& why) const {
    return fail(Errc::kParse, "invalid JSON at offset " + std::to_string(pos_) + ": " + why);
  }
  void ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  bool literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) == word) {
      pos_ += word.size();
      return true;
    }
    return false;
  }

  Result<JsonValue> value(int depth) {
    if (depth > kMaxDepth) {
      return bad("nested too deeply");
    }
    ws();
    if (pos_ >= s_.size()) {
      return bad("unexpected end of input");
    }
    JsonValue v;
    char c = s_[pos_];
    if (c == '{') {
      v.kind = JsonValue::Kind::kObject;
      ++pos_;
      ws();
      if (pos_ < s_.size() && s_[pos_] == '}') {
        ++pos_;
        return v;
      }
      while (true) {
        ws();
        if (pos_ >= s_.size() || s_[pos_] != '"') {
          return bad("expected a string key");
        }
        auto key = string();
        if (!key) {
          return fail(std::move(key.error()));
        }
        ws();
        if (pos_ >= s_.size() || s_[pos_] != ':') {
          return bad("expected ':'");
        }
        ++pos_;
        auto member = value(depth + 1);
        if (!member) {
          return member;
        }
        v.keys.push_back(std::move(*key));
        v.values.push_back(std::move(*member));
        ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == '}') {
          ++pos_;
          return v;
        }
        return bad("expected ',' or '}'");
      }
    }
    if (c == '[') {
      v.kind = JsonValue::Kind::kArray;
      ++pos_;
      ws();
      if (pos_ < s_.size() && s_[pos_] == ']') {
        ++pos_;
        return v;
      }
      while (true) {
        auto item = value(depth + 1);
        if (!item) {
          return item;
        }
        v.array.push_back(std::move(*item));
        ws();
        if (pos_ < s_.size() && s_[pos_] == ',') {
          ++pos_;
          continue;
        }
        if (pos_ < s_.size() && s_[pos_] == ']') {
          ++pos_;
          return v;
        }
        return bad("expected ',' or ']'");
      }
    }
    if (c == '"') {
      auto str = string();
      if (!str) {
        return fail(std::move(str.error()));
      }
      v.kind = JsonValue::Kind::kString;
      v.string = std::move(*str);
      return v;
    }
    if (literal("true") || literal("false")) {
      v.kind = JsonValue::Kind::kBool;
      v.boolean = s_[pos_ - 1] == 'e' && s_[pos_ - 2] == 'u';
      return v;
    }
    if (literal("null")) {
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      size_t start = pos_;
      if (s_[pos_] == '-') {
        ++pos_;
      }
      auto digits = [&] {
        size_t d = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
          ++pos_;
        }
        return pos_ - d;
      };
      size_t int_start = pos_;
      size_t n = digits();
      if (n == 0 || (n > 1 && s_[int_start] == '0')) {
        return bad("malformed number");
      }
      if (pos_ < s_.size() && s_[pos_] == '.') {
        ++pos_;
        if (digits() == 0) {
          return bad("malformed number");
        }
      }
      if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
        ++pos_;
        if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) {
          ++pos_;
        }
        if (digits() == 0) {
          return bad("malformed number");
        }
      }
      v.kind = JsonValue::Kind::kNumber;
      v.number = std::strtod(std::string(s_.substr(start, pos_ - start)).c_str(), nullptr);
      return v;
    }
    return bad(std::string("unexpected character '") + c + "'");
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  Result<uint32_t> hex4() {
    if (pos_ + 4 > s_.size()) {
      return bad("short \\u escape");
    }
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') {
        v |= static_cast<uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        v |= static_cast<uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        v |= static_cast<uint32_t>(h - 'A' + 10);
      } else {
        return bad("bad hex digit in \\u escape");
      }
    }
    return v;
  }

  Result<std::string> string() {
    ++pos_;  // opening quote
    std::string out;
    while (pos_ < s_.size()) {
      char c = s_[pos_++];
      if (c == '"') {
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        return bad("control character in string");
      }
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= s_.size()) {
        break;
      }
      char e = s_[pos_++];
      switch (e) {
        case '"':
          out.push_back('"');
          break;
        case '\\':
          out.push_back('\\');
          break;
        case '/':
          out.push_back('/');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          auto cp = hex4();
          if (!cp) {
            return fail(std::move(cp.error()));
          }
          uint32_t code = *cp;
          if (code >= 0xD800 && code <= 0xDBFF && s_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            auto lo = hex4();
            if (!lo) {
              return fail(std::move(lo.error()));
            }
            if (*lo >= 0xDC00 && *lo <= 0xDFFF) {
              code = 0x10000 + ((code - 0xD800) << 10) + (*lo - 0xDC00);
            } else {
              code = 0xFFFD;
            }
          } else if (code >= 0xD800 && code <= 0xDFFF) {
            code = 0xFFFD;  // lone surrogate: Go's json does the same
          }
          appendUtf8(out, code);
          break;
        }
        default:
          return bad(std::string("bad escape '\\") + e + "'");
      }
    }
    return bad("unterminated string");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

Result<JsonValue> parseJson(std::string_view text) { return JsonReader(text).document(); }

std::string_view jsonKindName(JsonValue::Kind k) {
  switch (k) {
    case JsonValue::Kind::kNull:
      return "null";
    case JsonValue::Kind::kBool:
      return "boolean";
    case JsonValue::Kind::kNumber:
      return "number";
    case JsonValue::Kind::kString:
      return "string";
    case JsonValue::Kind::kArray:
      return "array";
    case JsonValue::Kind::kObject:
      return "object";
  }
  return "value";
}

}  // namespace nld::resolver::config::detail
