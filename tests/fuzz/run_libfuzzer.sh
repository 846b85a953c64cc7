#!/usr/bin/env bash
# Builds a libFuzzer target with clang (ASan + UBSan) in a build directory and runs it for a
# while on a scratch copy of its corpus (the committed corpus is only read; new interesting
# inputs stay in the scratch copy — copy a crash reproducer into tests/fuzz/corpus/ by hand once
# it is fixed).
#
#   tests/fuzz/run_libfuzzer.sh [SECONDS=60] [TARGET=fuzz_parse_query] [BUILD_DIR=build-asan]
#
# BUILD_DIR defaults to .ci/test's clang ASan+UBSan directory (NLD_FUZZ=ON): the same build
# serves the sanitized ctest run and the fuzzers, and an already configured one is reused as is.
#
# Exit status is libFuzzer's: 0 when no crash was found.
set -euo pipefail
seconds=${1:-60}
target=${2:-fuzz_parse_query}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${3:-$src/build-asan}
case $target in
  fuzz_parse_query) corpus=$src/tests/fuzz/corpus ;;
  fuzz_upstream_answer) corpus=$src/tests/fuzz/corpus_upstream ;;
  fuzz_corefile) corpus=$src/tests/fuzz/corpus_corefile ;;
  fuzz_json) corpus=$src/tests/fuzz/corpus_json ;;
  fuzz_resolv_conf) corpus=$src/tests/fuzz/corpus_resolv_conf ;;
  fuzz_kubelet) corpus=$src/tests/fuzz/corpus_kubelet ;;
  fuzz_http_request) corpus=$src/tests/fuzz/corpus_http ;;
  fuzz_tcp_framing) corpus=$src/tests/fuzz/corpus_tcp_framing ;;
  *) echo "unknown target '$target'" >&2; exit 2 ;;
esac
if ! grep -qx 'NLD_FUZZ:BOOL=ON' "$build/CMakeCache.txt" 2>/dev/null; then
  cmake -S "$src" -B "$build" -DNLD_FUZZ=ON -DNLD_SANITIZE=address,undefined \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
fi
nice cmake --build "$build" -j2 --target "${target}_libfuzzer"
work=$build/corpus-$target
mkdir -p "$work" "$build/artifacts"
exec "$build/tests/fuzz/${target}_libfuzzer" -max_total_time="$seconds" -timeout=5 \
  -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
  -artifact_prefix="$build/artifacts/" "$work" "$corpus"
