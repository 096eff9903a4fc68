#!/usr/bin/env bash
# Sets up (Debian packages), builds, and trains the default model on Fashion-MNIST
# (Debian's dataset-fashion-mnist). Extra arguments go to `nosharing train`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" nosharing
cd "$root"
exec build/nosharing train "$@"
