#!/bin/bash
# Training throughput of ott-cifar, unshared and twin: `nosharing train` against the same
# networks written in Python PyTorch (bench/train_peers.py; unfold + einsum for the unshared
# one), batch 128, 2 compute threads for both (LibTorch/PyTorch and OpenBLAS), the same data.
# Images per second count the steps after a warm-up, data preparation included (nosharing's
# background loader, Python's in-loop crop and flip).
#
# It runs twice: with the environment as the machine sets it, and with OPENBLAS_CORETYPE and
# OPENBLAS_L2_SIZE unset (OpenBLAS's own kernel choice, what users get). If neither is set,
# the second pass forces OPENBLAS_CORETYPE=Haswell instead, so both kernels still show. The
# table names the OpenBLAS kernel that ran and the ratios nosharing / Python.
#
# Usage: bench/train_throughput.sh [--steps N] [--warmup N] [--data DIR] [--synthetic]
#                                  [--nosharing BINARY]
#   --steps     timed optimiser steps per run (default 40)
#   --warmup    untimed steps before them (default 5)
#   --data      CIFAR-10 binary batches (default ../shared/data/cifar-10-batches-bin beside the
#               repository); when absent, or with --synthetic, a synthetic CIFAR-format batch of
#               10000 random images is written to a temporary directory and both sides read it
#   --nosharing the CLI (default build/nosharing)
# Roughly 2 × (warmup + steps) × (2.3 s unshared Python + 0.5 + 0.3 + 0.3 s) on 2 idle cores,
# plus ~10 s of start-up per run: ≈ 6 min with the defaults.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
steps=40
warmup=5
data="$root/../shared/data/cifar-10-batches-bin"
synthetic=0
nosharing="$root/build/nosharing"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --synthetic) synthetic=1; shift ;;
    --nosharing) nosharing="$2"; shift 2 ;;
    *) echo "train_throughput.sh: unknown argument '$1' (see the header for usage)" >&2; exit 2 ;;
  esac
done
python=/usr/bin/python3  # Debian's, with python3-torch (DESIGN §9)
threads=2
batch=128
[ -x "$nosharing" ] || { echo "train_throughput.sh: no nosharing binary at $nosharing" >&2; exit 2; }
[ "$warmup" -ge 1 ] && [ "$steps" -ge 1 ] ||
  { echo "train_throughput.sh: --warmup and --steps must be >= 1" >&2; exit 2; }
work="$(mktemp -d /tmp/train_throughput.XXXXXX)"
results="$work/results.jsonl"

. "$here/cifar_data.sh"
data="$(cifar_data_dir "$data" "$synthetic" "$work" "$python")"
echo "# data: $data"

# Both thread pools at 2 on both sides: LibTorch's/PyTorch's OpenMP and OpenBLAS's.
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads

run_pass() {  # $1 = config label; the rest = env arguments
  local label="$1"; shift
  echo "== $label: OPENBLAS_CORETYPE=$(env "$@" sh -c 'echo ${OPENBLAS_CORETYPE-unset}')" >&2
  record() { sed "s|^{|{\"config\": \"$label\", |" >> "$results"; }  # labels hold "/"
  for model in unshared twin; do
    local sharing=none
    [ "$model" = twin ] && sharing=conv
    local run="$work/run-$model-$(echo "$label" | tr -c 'a-zA-Z0-9\n' '_')"
    env "$@" "$nosharing" train --quiet --no-analyze --force --out "$run" \
      --data "$data" --threads $threads \
      --set model.preset=ott-cifar --set model.sharing=$sharing \
      --set train.batch_size=$batch --set train.max_steps=$((warmup + steps)) \
      --set train.log_every=1 --set train.eval_batch_size=500 --set data.val_fraction=0.02 \
      > /dev/null
    "$python" "$here/train_peers.py" --nosharing-run "$run" --model $model --warmup "$warmup" \
      --batch $batch | record
    echo "   nosharing $model done" >&2
    env "$@" "$python" "$here/train_peers.py" --run $model --data "$data" --steps "$steps" \
      --warmup "$warmup" --batch $batch --threads $threads | record
    echo "   python $model done" >&2
  done
}

echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $steps timed steps after $warmup warm-up steps, batch $batch, $threads threads"
run_pass "as set"
if [ -n "${OPENBLAS_CORETYPE-}${OPENBLAS_L2_SIZE-}" ]; then
  run_pass "OPENBLAS_CORETYPE/L2_SIZE unset" -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
else
  run_pass "OPENBLAS_CORETYPE=Haswell" OPENBLAS_CORETYPE=Haswell
fi
"$python" "$here/train_peers.py" --table "$results"
echo
echo "raw results: $results (nosharing run directories beside it)"
