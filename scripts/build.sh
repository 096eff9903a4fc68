#!/usr/bin/env bash
# Configures and builds nosharing in build/ (Release). Usage: scripts/build.sh [targets...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build build -j "$jobs" ${1:+--target "$@"}
