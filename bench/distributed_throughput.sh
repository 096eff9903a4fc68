#!/bin/bash
# Data-parallel throughput of ott-cifar on this machine (docs/distributed.md): images/s of
#   1 rank  × 2 threads   (nosharing train --threads 2)
#   2 ranks × 1 thread    (nosharing train --nproc 2 --threads 2), gradients bucketed and
#                         all-reduced over Gloo on loopback, overlapped with backward
#   2 ranks × 1 thread, distributed.overlap = false (every bucket after backward: the whole
#                         allreduce is exposed, which measures its full cost)
# with the global batch fixed (--batch, default 128: 64 per rank), and the share of wall time
# rank 0 spends blocked on the gradient allreduce (the trainer's "allreduce_share" and
# "allreduce_seconds" on train lines).
#
# Images/s and the share are taken between the train line of step `warmup` and the last
# one (train.log_every = 1; the evaluation and checkpoint at the end are outside). Data
# preparation counts (data.threads = 2 background loader threads per rank). The environment
# is used as it is (OPENBLAS_CORETYPE included: see DESIGN §9).
#
# Usage: bench/distributed_throughput.sh [--steps N] [--warmup N] [--batch B] [--data DIR]
#                                        [--synthetic] [--model M] [--nosharing BINARY]
#   --steps     timed optimiser steps per run (default 30)
#   --warmup    untimed steps before them (default 5)
#   --batch     global batch (default 128; even)
#   --data      CIFAR-10 binary batches (default ../shared/data/cifar-10-batches-bin beside the
#               repository); when absent, or with --synthetic, a synthetic CIFAR-format batch of
#               10000 random images is written to a temporary directory
#   --model     unshared (default), twin or both
#   --nosharing the CLI (default build/nosharing)
# Roughly 3 × (warmup + steps) × 1.5 s for the unshared model on 2 idle cores, plus start-up:
# ≈ 3 minutes with the defaults.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
steps=30
warmup=5
batch=128
data="$root/../shared/data/cifar-10-batches-bin"
synthetic=0
models="unshared"
nosharing="$root/build/nosharing"
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --synthetic) synthetic=1; shift ;;
    --model) case "$2" in unshared|twin) models="$2" ;; both) models="unshared twin" ;;
               *) echo "distributed_throughput.sh: --model unshared|twin|both" >&2; exit 2 ;; esac
             shift 2 ;;
    --nosharing) nosharing="$2"; shift 2 ;;
    *) echo "distributed_throughput.sh: unknown argument '$1' (see the header for usage)" >&2
       exit 2 ;;
  esac
done
python=/usr/bin/python3
[ -x "$nosharing" ] || { echo "distributed_throughput.sh: no nosharing binary at $nosharing" >&2; exit 2; }
[ "$warmup" -ge 1 ] && [ "$steps" -ge 1 ] ||
  { echo "distributed_throughput.sh: --warmup and --steps must be >= 1" >&2; exit 2; }
[ $((batch % 2)) -eq 0 ] || { echo "distributed_throughput.sh: --batch must be even" >&2; exit 2; }
work="$(mktemp -d /tmp/distributed_throughput.XXXXXX)"

. "$here/cifar_data.sh"
data="$(cifar_data_dir "$data" "$synthetic" "$work" "$python")"
echo "# data: $data"
echo "# $(date -u +%FT%TZ) $(uname -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE-unset}"
echo "# ott-cifar, global batch $batch, $steps timed steps after $warmup warm-up steps"

summarise() {  # $1 = label, $2 = run directory: one JSON line
  "$python" - "$1" "$2" "$warmup" <<'EOF'
import json, sys, tomllib
label, run, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = [json.loads(l) for l in open(run + "/metrics.jsonl") if l.strip()]
train = [l for l in lines if l["kind"] == "train"]
start = next(l for l in train if l["step"] == warmup)
timed = [l for l in train if l["step"] > warmup]
seconds = timed[-1]["seconds"] - start["seconds"]
prov = json.load(open(run + "/provenance.json"))
config = tomllib.load(open(run + "/config.toml", "rb"))
# Every step processes the global batch: batch_size × repetitions images.
batch = config["train"]["batch_size"] * config["augment"]["repetitions"]
out = {"config": label, "steps": len(timed), "seconds": round(seconds, 3),
       "images_per_second": round(len(timed) * batch / seconds, 2),
       "blas_kernel": prov.get("blas_kernel"), "threads_per_rank": prov.get("threads"),
       "ranks": prov.get("distributed", {}).get("world_size", 1)}
if "allreduce_seconds" in timed[-1]:
    blocked = sum(l["allreduce_seconds"] for l in timed)  # one step per line
    out["allreduce_seconds_per_step"] = round(blocked / len(timed), 4)
    out["allreduce_share"] = round(blocked / seconds, 4)
print(json.dumps(out))
EOF
}

results="$work/results.jsonl"
for model in $models; do
  sharing=none
  [ "$model" = twin ] && sharing=conv
  common=(--quiet --no-analyze --force --data "$data" --threads 2
          --set model.preset=ott-cifar --set model.sharing=$sharing
          --set train.batch_size=$batch --set train.max_steps=$((warmup + steps))
          --set train.log_every=1 --set train.eval_every=0 --set data.val_fraction=0.02)
  run="$work/$model-1x2"
  echo "== $model: 1 rank x 2 threads" >&2
  OMP_NUM_THREADS=2 "$nosharing" train --out "$run" "${common[@]}" > /dev/null
  summarise "$model 1 rank x 2 threads" "$run" | tee -a "$results"
  run="$work/$model-2x1"
  echo "== $model: 2 ranks x 1 thread" >&2
  "$nosharing" train --nproc 2 --out "$run" "${common[@]}" > /dev/null
  summarise "$model 2 ranks x 1 thread" "$run" | tee -a "$results"
  run="$work/$model-2x1-nooverlap"
  echo "== $model: 2 ranks x 1 thread, no overlap" >&2
  "$nosharing" train --nproc 2 --out "$run" "${common[@]}" --set distributed.overlap=false \
    > /dev/null
  summarise "$model 2 ranks x 1 thread, overlap off" "$run" | tee -a "$results"
done
"$python" - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print()
print(f"{'config':42} {'img/s':>8} {'vs 1x2':>7} {'allreduce s/step':>17} {'share':>6}")
base = {}
for r in rows:
    model = r["config"].split()[0]
    base.setdefault(model, r["images_per_second"])
    share = r.get("allreduce_share")
    per = r.get("allreduce_seconds_per_step")
    print(f"{r['config']:42} {r['images_per_second']:8.1f} "
          f"{r['images_per_second'] / base[model]:7.2f} "
          f"{'-' if per is None else f'{per:.4f}':>17} "
          f"{'-' if share is None else f'{100 * share:.1f}%':>6}")
EOF
echo
echo "raw results: $results (run directories beside it)"
