// Replays tests/fuzz/corpus_corefile/ through the Corefile fuzz target (no libFuzzer needed), so
// every crash the fuzzer once found stays fixed.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/netns.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

TEST(FuzzCorefile, CorpusReplays) {
  const std::filesystem::path dir = nld::test::sourcePath("tests/fuzz/corpus_corefile");
  size_t n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) {
      continue;
    }
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string data = ss.str();
    SCOPED_TRACE(entry.path().string());
    EXPECT_EQ(LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size()),
              0);
    ++n;
  }
  EXPECT_GT(n, 0u) << "empty corpus " << dir;
}

}  // namespace
