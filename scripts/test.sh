#!/usr/bin/env bash
# Sets up (Debian packages), builds and runs every test through ctest.
#   scripts/test.sh              Release build in build/
#   scripts/test.sh --sanitize   the whole suite under AddressSanitizer and
#                                UndefinedBehaviorSanitizer, built in build-sanitize/
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
if [ "${1:-}" = "--sanitize" ]; then
  cd "$root"
  if [ ! -f build-sanitize/CMakeCache.txt ]; then
    cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNOSHARING_SANITIZE=ON
  fi
  cmake --build build-sanitize -j "$(nproc)"
  cd build-sanitize
  # LibTorch's own one-time allocations (static registries, thread pools) are never freed:
  # leak checking would report them, not ours. Every other ASan and UBSan finding fails.
  export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  ctest --output-on-failure -j "$(nproc)" --timeout 1800
  exit 0
fi
"$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
