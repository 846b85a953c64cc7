// SHA-256 (FIPS 180-4), for the kube-dns ConfigMap version (node-cache hashes "name\0content\0"
// per file). Internal to nld_resolver_config.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace nld::resolver::config::detail {

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  /// Finishes and returns the lower-case hex digest; the object is spent afterwards.
  std::string hexDigest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

inline std::string sha256Hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hexDigest();
}

}  // namespace nld::resolver::config::detail
