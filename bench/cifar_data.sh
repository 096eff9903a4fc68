# Sourced by the training benchmarks (train_throughput.sh, distributed_throughput.sh).
# cifar_data_dir DATA SYNTHETIC WORK PYTHON: prints the CIFAR-10 binary batch directory to use —
# DATA if it holds data_batch_*.bin and SYNTHETIC is 0, otherwise a synthetic CIFAR-format batch
# of 10000 random images written under WORK (…/synthetic-cifar).
cifar_data_dir() {
  local data="$1" synthetic="$2" work="$3" python="$4"
  if [ "$synthetic" = 1 ] || ! ls "$data"/data_batch_*.bin > /dev/null 2>&1; then
    data="$work/synthetic-cifar"
    mkdir -p "$data"
    "$python" - "$data/data_batch_1.bin" <<'PY'
import sys
import numpy as np
rng = np.random.default_rng(0)
records = rng.integers(0, 256, size=(10000, 3073), dtype=np.uint8)
records[:, 0] = rng.integers(0, 10, size=10000)  # labels
records.tofile(sys.argv[1])
PY
  fi
  echo "$data"
}
