#include "base/json.h"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <system_error>

namespace nld {

namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }

bool isSurrogate(uint32_t cp) { return cp >= 0xd800 && cp <= 0xdfff; }

void appendUtf8(std::string& out, uint32_t cp) {
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

// The four hex digits at the start of `s`, or std::nullopt.
std::optional<uint32_t> hex4(std::string_view s) {
  if (s.size() < 4) {
    return std::nullopt;
  }
  uint32_t v = 0;
  for (char h : s.substr(0, 4)) {
    v <<= 4;
    if (isDigit(h)) {
      v |= static_cast<uint32_t>(h - '0');
    } else if (h >= 'a' && h <= 'f') {
      v |= static_cast<uint32_t>(h - 'a' + 10);
    } else if (h >= 'A' && h <= 'F') {
      v |= static_cast<uint32_t>(h - 'A' + 10);
    } else {
      return std::nullopt;
    }
  }
  return v;
}

// For a number from_chars found out of range (grammar already checked): true when its
// magnitude is too large for a double, false when too small. The decimal exponent of the first
// significant digit decides; out-of-range values are hundreds of decades away from 10^0.
bool overflows(std::string_view num) {
  size_t i = num.front() == '-' ? 1 : 0;
  bool found = false;
  long long int_digits = 0;
  for (; i < num.size() && isDigit(num[i]); ++i) {
    if (found || num[i] != '0') {
      found = true;
      ++int_digits;
    }
  }
  long long exp10 = int_digits - 1;
  if (i < num.size() && num[i] == '.') {
    long long k = 0;
    for (++i; i < num.size() && isDigit(num[i]); ++i, ++k) {
      if (!found && num[i] != '0') {
        found = true;
        exp10 = -(k + 1);
      }
    }
  }
  if (i < num.size() && (num[i] == 'e' || num[i] == 'E')) {
    ++i;
    bool negative = num[i] == '-';
    if (num[i] == '-' || num[i] == '+') {
      ++i;
    }
    long long e = 0;
    for (; i < num.size() && isDigit(num[i]); ++i) {
      e = std::min(e * 10 + (num[i] - '0'), 1'000'000'000LL);  // saturate: only the sign matters
    }
    exp10 += negative ? -e : e;
  }
  return found && exp10 > 0;
}

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
      return error("unexpected text after the value");
    }
    return v;
  }

 private:
  tl::unexpected<Error> error(std::string_view why) const {
    return fail(Errc::kParse,
                "invalid JSON at offset " + std::to_string(pos_) + ": " + std::string(why));
  }

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
    if (depth > kMaxJsonDepth) {
      return error("nested too deeply");
    }
    skipSpace();
    if (pos_ >= s_.size()) {
      return error("unexpected end of input");
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
    if (c == '-' || isDigit(c)) {
      return number();
    }
    return error(std::string("unexpected character '") + c + "'");
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
        return error("expected a string key");
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
      out.push_back(JsonMember{std::move(*key), std::move(*v)});
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

  // After the 'u' of a \u escape: the code point, with a following \u low surrogate joined.
  // A lone or mismatched surrogate becomes U+FFFD and the next escape is read on its own, as
  // Go's encoding/json does.
  Result<uint32_t> unicodeEscape() {
    auto cp = hex4(s_.substr(pos_));
    if (!cp) {
      return error("bad \\u escape");
    }
    pos_ += 4;
    if (!isSurrogate(*cp)) {
      return *cp;
    }
    if (*cp <= 0xdbff && s_.substr(pos_, 2) == "\\u") {
      auto lo = hex4(s_.substr(pos_ + 2));
      if (lo && *lo >= 0xdc00 && *lo <= 0xdfff) {
        pos_ += 6;
        return 0x10000 + ((*cp - 0xd800) << 10) + (*lo - 0xdc00);
      }
    }
    return 0xfffd;
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
          auto cp = unicodeEscape();
          if (!cp) {
            return fail(std::move(cp).error());
          }
          appendUtf8(out, *cp);
          break;
        }
        default:
          return error(std::string("bad escape '\\") + e + "'");
      }
    }
    return error("unterminated string");
  }

  size_t digits() {
    size_t start = pos_;
    while (pos_ < s_.size() && isDigit(s_[pos_])) {
      ++pos_;
    }
    return pos_ - start;
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  Result<JsonValue> number() {
    const size_t start = pos_;
    consume("-");
    const size_t int_start = pos_;
    const size_t n = digits();
    if (n == 0 || (n > 1 && s_[int_start] == '0')) {
      return error("malformed number");
    }
    bool integral = true;
    if (consume(".")) {
      integral = false;
      if (digits() == 0) {
        return error("malformed number");
      }
    }
    if (consume("e") || consume("E")) {
      integral = false;
      if (!consume("+")) {
        consume("-");
      }
      if (digits() == 0) {
        return error("malformed number");
      }
    }
    const std::string_view text = s_.substr(start, pos_ - start);
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (integral) {
      int64_t i = 0;
      if (auto r = std::from_chars(first, last, i); r.ec == std::errc() && r.ptr == last) {
        return JsonValue(i);
      }
    }
    double d = 0;
    auto r = std::from_chars(first, last, d);
    if (r.ec == std::errc::result_out_of_range) {
      if (overflows(text)) {
        pos_ = start;
        return error("number out of range");
      }
      d = text.front() == '-' ? -0.0 : 0.0;  // underflow: Go's ParseFloat also gives ±0
    } else if (r.ec != std::errc() || r.ptr != last) {
      pos_ = start;
      return error("malformed number");
    }
    return JsonValue(d);
  }

  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

JsonKind JsonValue::kind() const noexcept {
  // The variant's alternatives in order: monostate, bool, int64_t, double, string, Array, Object.
  constexpr JsonKind kKinds[] = {JsonKind::kNull,   JsonKind::kBool,   JsonKind::kNumber,
                                 JsonKind::kNumber, JsonKind::kString, JsonKind::kArray,
                                 JsonKind::kObject};
  static_assert(std::size(kKinds) == std::variant_size_v<decltype(v_)>);
  const size_t i = v_.index();
  return i < std::size(kKinds) ? kKinds[i] : JsonKind::kNull;  // valueless: only after bad_alloc
}

std::optional<bool> JsonValue::boolean() const noexcept {
  if (const auto* b = std::get_if<bool>(&v_)) {
    return *b;
  }
  return std::nullopt;
}

std::optional<int64_t> JsonValue::integer() const noexcept {
  if (const auto* i = std::get_if<int64_t>(&v_)) {
    return *i;
  }
  return std::nullopt;
}

std::optional<double> JsonValue::number() const noexcept {
  if (const auto* i = std::get_if<int64_t>(&v_)) {
    return static_cast<double>(*i);
  }
  if (const auto* d = std::get_if<double>(&v_)) {
    return *d;
  }
  return std::nullopt;
}

const JsonValue* JsonValue::get(std::string_view key) const noexcept {
  const Object* o = members();
  if (o == nullptr) {
    return nullptr;
  }
  for (auto it = o->rbegin(); it != o->rend(); ++it) {  // the last of a repeated name wins
    if (it->key == key) {
      return &it->value;
    }
  }
  return nullptr;
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

std::string_view jsonKindName(JsonKind kind) noexcept {
  switch (kind) {
    case JsonKind::kNull:
      return "null";
    case JsonKind::kBool:
      return "boolean";
    case JsonKind::kNumber:
      return "number";
    case JsonKind::kString:
      return "string";
    case JsonKind::kArray:
      return "array";
    case JsonKind::kObject:
      return "object";
  }
  return "value";
}

Result<JsonValue> parseJson(std::string_view text) { return Parser(text).document(); }

}  // namespace nld
