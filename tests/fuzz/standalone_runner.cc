// Replays fuzz corpora without libFuzzer (dnsdist's standalone_fuzz_target_runner, Knot's
// tests-fuzz/main.c): every file under each directory given on the command line is fed to
// LLVMFuzzerTestOneInput once. A crash or abort fails the ctest entry; the ASan build turns
// memory errors into failures too. Prints how many inputs ran.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::filesystem::recursive_directory_iterator it(argv[i], ec);
    if (ec) {
      std::fprintf(stderr, "cannot read corpus '%s': %s\n", argv[i], ec.message().c_str());
      return 1;
    }
    for (const auto& entry : it) {
      if (!entry.is_regular_file()) {
        continue;
      }
      std::ifstream f(entry.path(), std::ios::binary);
      std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)),
                                 std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
      ++inputs;
    }
  }
  std::printf("replayed %zu inputs\n", inputs);
  return inputs == 0 ? 1 : 0;  // an empty corpus is a broken test, not a pass
}
