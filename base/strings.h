// Small string helpers shared by cli, templates and resolver/config (no locale, no allocation
// beyond the result).
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace nld {

/// `parts` with `sep` between each two of them ("" for none). A part is its own text if it is a
/// string, else its toString() (IpAddress, SocketAddress, ...).
template <typename T>
std::string join(const std::vector<T>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) {
      out += sep;
    }
    if constexpr (std::is_convertible_v<const T&, std::string_view>) {
      out += parts[i];
    } else {
      out += parts[i].toString();
    }
  }
  return out;
}

/// Replaces every non-overlapping occurrence of `from` in `text` with `to`, left to right; the
/// replacement text is never searched again. `from` must not be empty.
void replaceAll(std::string& text, std::string_view from, std::string_view to);

/// Control characters (< 0x20 and 0x7f) as \xNN, everything else as is: prints as one line.
std::string escapeControl(std::string_view text);

/// User text for a one-line message: in single quotes, control characters as \xNN, at most 80
/// bytes (then "..." before the closing quote).
std::string quoted(std::string_view text);

}  // namespace nld
