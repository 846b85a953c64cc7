// Corefile tokens, as CoreDNS's (caddy v1) lexer produces them: whitespace-separated words with
// their line numbers, "quoted strings" (only \" is an escape inside quotes), `#` comments to the
// end of the line, `{` and `}` as ordinary words. Environment references `{$NAME}` and
// `{%NAME%}` inside a token are replaced (once, left to right; an unset variable → "").
//
// Internal to nld_resolver_config.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace nld::resolver::config::detail {

struct Token {
  std::string text;
  int line = 1;
  bool quoted = false;  // "{" in quotes is a word, not a brace
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

/// Splits `text` into tokens. Fails only on an unterminated quoted string ("FILE:LINE: ...").
Result<std::vector<Token>> lexCorefile(std::string_view text, std::string_view filename);

/// Replaces {$NAME} and {%NAME%} references (CoreDNS replaceEnvVars, without its re-scan of
/// substituted text, which loops forever on self-references).
std::string replaceEnvVars(std::string_view text, const EnvLookup& env);

}  // namespace nld::resolver::config::detail
