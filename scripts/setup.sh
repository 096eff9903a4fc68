#!/usr/bin/env bash
# Installs every Debian package nosharing needs (idempotent; Debian 12, as root, or with sudo).
set -euo pipefail
packages=(
  build-essential cmake ninja-build pkg-config ccache git
  libtorch-dev libgloo-dev libopenblas-dev libdnnl-dev
  libtomlplusplus-dev libcli11-dev libfmt-dev nlohmann-json3-dev libstb-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist python3-torch chromium
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
