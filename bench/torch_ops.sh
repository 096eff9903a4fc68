#!/bin/bash
# The PyTorch operators (issue 25) side by side, in one run: for the ott-cifar layers and
# DESIGN §9's shapes, forward + backward at batch 128 — torch.ops.nosharing.locally_connected2d
# (our kernels called from Python), Python's unfold+einsum, and conv2d of the same shape (the
# shared twin); then the per-column linear shapes against einsum and one shared linear. Each
# measurement in its own process; then the ratio table (bench/peers.py --ops-table).
#
# Usage: bench/torch_ops.sh [SECONDS_PER_MEASUREMENT] [THREADS]
#   needs build/python/libnosharing_torch_ops.so (cmake --build build) or NOSHARING_TORCH_OPS.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
seconds="${1:-3}"
threads="${2:-2}"
python=/usr/bin/python3  # Debian's, with python3-torch
export NOSHARING_TORCH_OPS="${NOSHARING_TORCH_OPS:-$here/../build/python/libnosharing_torch_ops.so}"
[ -f "$NOSHARING_TORCH_OPS" ] || { echo "torch_ops.sh: no operator library at $NOSHARING_TORCH_OPS" >&2; exit 2; }
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
results="$(mktemp /tmp/torch_ops.XXXXXX.jsonl)"
echo "== $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset}" >&2
for shape in ott_lc1_c3_32_k64_k5_s2 ott_lc2_c64_16_k128_k5_s2 c128_8_k256_k3 c3_32_k64_k5 c64_16_k128_k3; do
  for method in op einsum conv2d; do
    "$python" "$here/peers.py" --one "$method:$shape" --threads "$threads" --seconds "$seconds" >> "$results"
  done
done
for shape in col_l64_d256_d256 col_l256_d128_d16 col_l256_d16_d128 col_l64_d48_d128; do
  for method in op einsum linear; do
    "$python" "$here/peers.py" --one "$method:$shape" --threads "$threads" --seconds "$seconds" >> "$results"
  done
done
"$python" "$here/peers.py" --ops-table "$results"
echo "(raw: $results)" >&2
