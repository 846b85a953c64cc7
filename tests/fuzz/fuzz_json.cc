// libFuzzer target: base/json's parseJson() must never crash, hang or recurse without bound on
// any input (the kube-dns ConfigMap is written by whoever can edit kube-system), and what it
// returns must be consistent: an error names a byte offset inside the input; a value answers its
// accessors the way kind() says.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "base/json.h"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

void walk(const nld::JsonValue& v, int depth) {
  check(depth <= nld::kMaxJsonDepth);
  const nld::JsonKind kind = v.kind();
  check(v.isNull() == (kind == nld::JsonKind::kNull));
  check(v.boolean().has_value() == (kind == nld::JsonKind::kBool));
  check(v.number().has_value() == (kind == nld::JsonKind::kNumber));
  if (auto i = v.integer(); i && *i <= (int64_t{1} << 53) && *i >= -(int64_t{1} << 53)) {
    check(static_cast<double>(*i) == *v.number());  // exact below 2^53
  }
  check((v.string() != nullptr) == (kind == nld::JsonKind::kString));
  check((v.array() != nullptr) == (kind == nld::JsonKind::kArray));
  check((v.members() != nullptr) == (kind == nld::JsonKind::kObject));
  check(!nld::jsonKindName(kind).empty());
  if (const auto* a = v.array()) {
    for (const auto& item : *a) {
      walk(item, depth + 1);
    }
  }
  if (const auto* m = v.members()) {
    for (const auto& member : *m) {
      // get() returns the last member of a name: the same object or a later one.
      const nld::JsonValue* got = v.get(member.key);
      check(got != nullptr && got >= &member.value);
      walk(member.value, depth + 1);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto v = nld::parseJson(text);
  if (!v) {
    const std::string& msg = v.error().message();
    constexpr std::string_view kPrefix = "invalid JSON at offset ";
    check(msg.rfind(kPrefix, 0) == 0);
    check(std::strtoull(msg.c_str() + kPrefix.size(), nullptr, 10) <= size);
    return 0;
  }
  walk(*v, 0);
  return 0;
}
