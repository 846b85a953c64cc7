// A small strict JSON (RFC 8259) reader for the kube-dns ConfigMap values: objects, arrays,
// strings (with \u escapes → UTF-8), numbers, true/false/null. Depth-limited. Internal to
// nld_resolver_config.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace nld::resolver::config::detail {

struct JsonValue {
  enum class Kind : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<JsonValue> array;
  // Object members in document order, as two parallel vectors (a vector of pairs would need
  // JsonValue complete here; clang rejects that).
  std::vector<std::string> keys;
  std::vector<JsonValue> values;
};

/// Parses one JSON document (surrounding whitespace allowed). Errors name the byte offset.
Result<JsonValue> parseJson(std::string_view text);

std::string_view jsonKindName(JsonValue::Kind k);

}  // namespace nld::resolver::config::detail
