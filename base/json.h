// The one strict JSON (RFC 8259) reader, shared by netcfg (libnftables' `nft -j` output) and
// resolver/config (the kube-dns ConfigMap values).
//
// parseJson() validates the whole text once into a tree of JsonValue: nesting depth is bounded
// (kMaxJsonDepth), no exception is thrown, and an error names the byte offset where reading
// stopped. The tree is then decoded with accessors that return nullptr / std::nullopt for a
// missing member or a value of another type, so decoding code needs neither try/catch nor
// type checks before every step.
//
// Choices where JSON readers differ, made to match Go's encoding/json (what kube-dns and
// node-cache use on the same ConfigMap):
// - Object members keep document order and repeated names (members()); get() finds the last
//   member of a name, as Go does when it unmarshals into a map.
// - A lone or mismatched UTF-16 surrogate in a \u escape decodes to U+FFFD.
// - Numbers follow the RFC grammar exactly (no leading zeros, no "1.", no "+1"). An integral
//   number that fits in int64_t is kept exactly (integer()); every finite number is available
//   as a double (number()); one that overflows a double is an error.
// Threading: a JsonValue is an immutable value after parsing; no shared state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/result.h"

namespace nld {

/// Deepest nesting of arrays and objects parseJson() accepts (the top-level value is depth 0).
inline constexpr int kMaxJsonDepth = 64;

enum class JsonKind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };

struct JsonMember;

class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  /// Members in document order; a repeated name appears once per occurrence.
  using Object = std::vector<JsonMember>;

  // Defined below JsonMember: the variant's constructors need every alternative complete.
  JsonValue() = default;  // null
  explicit JsonValue(bool b);
  explicit JsonValue(int64_t i);
  explicit JsonValue(double d);
  explicit JsonValue(std::string s);
  explicit JsonValue(Array a);
  explicit JsonValue(Object o);

  JsonKind kind() const noexcept;
  bool isNull() const noexcept { return std::holds_alternative<std::monostate>(v_); }
  std::optional<bool> boolean() const noexcept;
  /// An integral number that fits in int64_t, exactly; std::nullopt for 3.5, 1e3 or 2^70.
  std::optional<int64_t> integer() const noexcept;
  /// Any number, as a double (an integer() beyond 2^53 is rounded).
  std::optional<double> number() const noexcept;
  const std::string* string() const noexcept { return std::get_if<std::string>(&v_); }
  const Array* array() const noexcept { return std::get_if<Array>(&v_); }
  /// The members of an object in document order; nullptr when this is not an object.
  const Object* members() const noexcept { return std::get_if<Object>(&v_); }

  /// Member `key` of an object (the last one when the name repeats); nullptr when this is not
  /// an object or has no such member.
  const JsonValue* get(std::string_view key) const noexcept;
  /// Member `key` as a string / integer (std::nullopt when absent or of another type).
  std::optional<std::string_view> getString(std::string_view key) const noexcept;
  std::optional<int64_t> getInt(std::string_view key) const noexcept;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

struct JsonMember {
  std::string key;
  JsonValue value;
};

inline JsonValue::JsonValue(bool b) : v_(b) {}
inline JsonValue::JsonValue(int64_t i) : v_(i) {}
inline JsonValue::JsonValue(double d) : v_(d) {}
inline JsonValue::JsonValue(std::string s) : v_(std::move(s)) {}
inline JsonValue::JsonValue(Array a) : v_(std::move(a)) {}
inline JsonValue::JsonValue(Object o) : v_(std::move(o)) {}

/// "null", "boolean", "number", "string", "array" or "object", for error messages.
std::string_view jsonKindName(JsonKind kind) noexcept;

/// Parses one JSON document; whitespace around it is allowed, anything else after it is not.
/// Errors: Errc::kParse, "invalid JSON at offset <byte>: <why>", e.g.
/// "invalid JSON at offset 26: expected ',' or '}'".
Result<JsonValue> parseJson(std::string_view text);

}  // namespace nld
