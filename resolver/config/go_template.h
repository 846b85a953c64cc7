// The subset of Go's text/template and regexp that CoreDNS's `template` plugin configurations
// use (its README examples), checked when the Corefile is parsed and run per query.
//
// Templates: literal text and actions `{{ .Name }}`, `{{ .Class }}`, `{{ .Type }}`,
// `{{ .Zone }}`, `{{ .Question }}`, `{{ index .Match N }}`, `{{ .Group.NAME }}` (NAME a group
// name or number, also `{{ index .Group "NAME" }}`), with `{{-`/`-}}` trimming. Anything else
// (pipelines, variables, `.Message`, `.Meta`, functions other than index) is a parse error, not
// a silently different answer.
//
// Regexes: Go RE2 syntax is compiled as ECMAScript std::regex; `(?P<name>...)` (and
// `(?<name>...)`) become plain groups whose numbers are remembered by name. RE2-only constructs
// that ECMAScript lacks (e.g. `(?i)`, `\pL`, `[[:alpha:]]` outside a class) fail to compile and are
// reported as errors.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"

namespace nld::resolver::config {

class GoTemplate {
 public:
  enum class Field : uint8_t { kText, kName, kClass, kType, kZone, kQuestion, kMatch, kGroup };
  struct Piece {
    Field field = Field::kText;
    std::string text;  ///< kText: the text; kGroup: the group's name
    size_t index = 0;  ///< kMatch: N
  };
  struct Data {
    std::string_view name, qclass, qtype, zone;
    const std::vector<std::string>* match = nullptr;
    const std::vector<std::pair<std::string, std::string>>* groups = nullptr;
  };

  /// Errors read "template: unsupported action '{{ .Meta \"x\" }}'" (no file:line).
  static Result<GoTemplate> parse(std::string_view text);
  /// Go prints a missing map key as "<no value>"; `index .Match N` out of range is an error.
  Result<std::string> execute(const Data& data) const;
  bool constant() const noexcept;
  const std::vector<Piece>& pieces() const noexcept { return pieces_; }

 private:
  std::vector<Piece> pieces_;
};

struct GoRegex {
  std::string ecmascript;
  std::vector<std::string> group_names;  ///< [group number] → name ("" unnamed); [0] = ""
};
/// Translates and test-compiles; the error names what std::regex rejected.
Result<GoRegex> translateGoRegex(std::string_view re);

}  // namespace nld::resolver::config
