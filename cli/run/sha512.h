// SHA-512 (FIPS 180-4), for coredns_reload_version_info{hash="sha512", value}: CoreDNS's reload
// plugin labels the loaded Corefile with the hex SHA-512 of its text. Pure, no I/O.
#pragma once

#include <string>
#include <string_view>

namespace nld::cli {

/// Lower-case hex SHA-512 digest (128 characters) of `data`.
std::string sha512Hex(std::string_view data);

}  // namespace nld::cli
