#!/bin/bash
# Side by side, in one run: for every shape of bench/locally_connected_bench.cc (DESIGN §9's
# three and the ott-cifar layers), forward + backward at batch 128 with 2 threads — our fast
# kernel, our unfold+bmm reference, Python PyTorch unfold+einsum and unfold+bmm, conv2d of the
# same shape, and OpenBLAS sgemm 2048³ as the ceiling; then the same for the per-column
# linear shapes of bench/column_linear_bench.cc (Python einsum and baddbmm, and one shared
# torch::linear as the twin). Every measurement runs in its own
# process so its extra memory (peak RSS minus RSS before the first call) is its own.
#
# It runs twice: with the environment as the machine sets it, and with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset (OpenBLAS's own kernel choice, what users get). If neither is set,
# the second pass forces OPENBLAS_CORETYPE=Haswell instead, so both kernels still show.
#
# Usage: bench/side_by_side.sh [BENCH_BINARY] [SECONDS_PER_MEASUREMENT]
#   BENCH_BINARY defaults to build/nosharing_bench (cmake -DNOSHARING_BUILD_BENCH=ON).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bench="${1:-$here/../build/nosharing_bench}"
seconds="${2:-3}"
python=/usr/bin/python3  # Debian's, with python3-torch (DESIGN §9)
threads=2
shapes="c3_32_k64_k5 c64_16_k128_k3 c128_8_k256_k3 ott_lc1_c3_32_k64_k5_s2 ott_lc2_c64_16_k128_k5_s2"
# Per-column linear layers (bench/column_linear_bench.cc); their twin is one shared linear.
column_shapes="col_l64_d256_d256 col_l256_d128_d16 col_l256_d16_d128 col_l64_d48_d128"
[ -x "$bench" ] || { echo "side_by_side.sh: no benchmark binary at $bench" >&2; exit 2; }
results="$(mktemp /tmp/side_by_side.XXXXXX.jsonl)"

# Both thread pools at 2: LibTorch's (set inside) and OpenBLAS's (env and set inside).
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

run_pass() {  # $1 = config label; the rest = env arguments
  local label="$1"; shift
  echo "== $label: OPENBLAS_CORETYPE=$(env "$@" sh -c 'echo ${OPENBLAS_CORETYPE-unset}')" >&2
  record() { sed "s|^{|{\"config\": \"$label\", |" >> "$results"; }  # labels hold "/"
  env "$@" "$bench" --one=sgemm: --threads=$threads --seconds="$seconds" | record
  for shape in $shapes; do
    for method in fast reference conv2d; do
      env "$@" "$bench" --one="$method:$shape" --threads=$threads --seconds="$seconds" | record
    done
    for method in bmm bmm_contiguous einsum; do
      env "$@" "$python" "$here/peers.py" --one="$method:$shape" --threads=$threads \
        --seconds="$seconds" | record
    done
    echo "   $shape done" >&2
  done
  for shape in $column_shapes; do
    for method in fast reference linear; do
      env "$@" "$bench" --one="$method:$shape" --threads=$threads --seconds="$seconds" | record
    done
    for method in bmm bmm_contiguous einsum; do
      env "$@" "$python" "$here/peers.py" --one="$method:$shape" --threads=$threads \
        --seconds="$seconds" | record
    done
    echo "   $shape done" >&2
  done
}

echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
run_pass "as set"
if [ -n "${OPENBLAS_CORETYPE-}${OPENBLAS_L2_SIZE-}" ]; then
  run_pass "OPENBLAS_CORETYPE/L2_SIZE unset" -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
else
  run_pass "OPENBLAS_CORETYPE=Haswell" OPENBLAS_CORETYPE=Haswell
fi
"$python" "$here/peers.py" --table "$results"
echo
echo "raw results: $results"
