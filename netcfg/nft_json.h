// A small JSON reader for libnftables' `-j` output (internal to nld_netcfg_rules).
//
// nft's JSON is trusted-but-checked input: parseJson() validates the whole text once (depth and
// size bounded, no exceptions) into a tree of JsonValue; accessors return nullptr / std::nullopt
// for a missing member or a wrong type, so decoding code never needs a try/catch. Numbers are kept
// as int64_t when integral (nft prints handles, priorities and ports as integers), else as double.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/result.h"

namespace nld::netcfg {

class JsonValue {
 public:
  using Array = std::vector<JsonValue>;
  using Object = std::map<std::string, JsonValue, std::less<>>;

  JsonValue() = default;  // null
  explicit JsonValue(bool b) : v_(b) {}
  explicit JsonValue(int64_t i) : v_(i) {}
  explicit JsonValue(double d) : v_(d) {}
  explicit JsonValue(std::string s) : v_(std::move(s)) {}
  explicit JsonValue(Array a) : v_(std::move(a)) {}
  explicit JsonValue(Object o) : v_(std::move(o)) {}

  bool isNull() const noexcept { return std::holds_alternative<std::monostate>(v_); }
  const std::string* string() const noexcept { return std::get_if<std::string>(&v_); }
  const Array* array() const noexcept { return std::get_if<Array>(&v_); }
  const Object* object() const noexcept { return std::get_if<Object>(&v_); }
  std::optional<int64_t> integer() const noexcept;

  /// Member `key` of an object; nullptr when this is not an object or has no such member.
  const JsonValue* get(std::string_view key) const noexcept;
  /// Member `key` as a string / integer (std::nullopt when absent or of another type).
  std::optional<std::string_view> getString(std::string_view key) const noexcept;
  std::optional<int64_t> getInt(std::string_view key) const noexcept;

 private:
  std::variant<std::monostate, bool, int64_t, double, std::string, Array, Object> v_;
};

/// Parses one JSON document (RFC 8259; \u escapes incl. surrogate pairs; nesting ≤ 64).
/// Errors: kParse with the byte offset, e.g. "JSON: expected ':' at offset 17".
Result<JsonValue> parseJson(std::string_view text);

}  // namespace nld::netcfg
