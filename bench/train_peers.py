#!/usr/bin/python3
"""ott-cifar training throughput in Python PyTorch, and the table of bench/train_throughput.sh.

  train_peers.py --run unshared|twin --data DIR [--steps N] [--warmup N] [--batch B]
                 [--threads T]
      Trains the ott-cifar network (DESIGN §2) written in plain Python PyTorch — unshared:
      locally connected layers as unfold + einsum (the usual Python formulation); twin:
      nn.Conv2d — for warmup + steps optimiser steps on the CIFAR-10 binary batches in DIR and
      prints one JSON line: images per second over the last `steps` steps (data preparation
      included), the OpenBLAS kernel, the threads.
  train_peers.py --nosharing-run RUN_DIR --model unshared|twin --warmup N --batch B
      Reads a `nosharing train` run directory and prints the same JSON line for it:
      images per second between the train lines of step `warmup` and the last step.
  train_peers.py --table FILE
      Prints the table (and the ratios) from the JSON lines train_throughput.sh collected.

The network and recipe match `nosharing train --set model.preset=ott-cifar`: LC(5×5, 64, s2,
p2) → LC(5×5, 128, s2, p2) → LC(3×3, 256, s1, p1), each followed by BatchNorm2d and ReLU,
then Linear 16384 → 1024 → ReLU → Linear → 10; per-position weights [P, C_out, C_in·k·k]
drawn from U(±1/√fan_in); SGD with Nesterov momentum 0.9, weight decay 5e-4, lr 0.05;
cross-entropy; per-channel normalisation, random crop (4-pixel zero padding) and horizontal
flip. Run with Debian's /usr/bin/python3 (python3-torch; DESIGN §9).
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np

# (C_out, k, stride, padding) of the three conv-shaped layers, for 3×32×32 inputs.
LAYERS = [(64, 5, 2, 2), (128, 5, 2, 2), (256, 3, 1, 1)]
HIDDEN = 1024
CLASSES = 10


def blas_core_name():
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except OSError:
        return "unknown"


def load_cifar(path):
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] from data_batch_*.bin."""
    files = sorted(glob.glob(os.path.join(path, "data_batch_*.bin")))
    if not files:
        raise SystemExit(f"train_peers.py: no data_batch_*.bin in {path}")
    records = np.concatenate([np.fromfile(f, dtype=np.uint8).reshape(-1, 3073) for f in files])
    return records[:, 1:].reshape(-1, 3, 32, 32), records[:, 0].astype(np.int64)


def build_model(kind):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class LocallyConnected2d(nn.Module):
        """Unshared conv: weight [P, C_out, C_in·k·k], bias [P, C_out]; unfold + einsum."""

        def __init__(self, c_in, c_out, k, stride, padding, size):
            super().__init__()
            self.k, self.stride, self.padding = k, stride, padding
            self.out = (size + 2 * padding - k) // stride + 1
            positions, fan_in = self.out * self.out, c_in * k * k
            bound = fan_in ** -0.5
            self.weight = nn.Parameter(torch.empty(positions, c_out, fan_in).uniform_(-bound, bound))
            self.bias = nn.Parameter(torch.empty(positions, c_out).uniform_(-bound, bound))

        def forward(self, x):
            cols = F.unfold(x, self.k, padding=self.padding, stride=self.stride)  # [B, Ckk, P]
            out = torch.einsum("bip,poi->bop", cols, self.weight) + self.bias.t()
            return out.reshape(x.shape[0], -1, self.out, self.out)

    layers, c_in, size = [], 3, 32
    for c_out, k, stride, padding in LAYERS:
        if kind == "unshared":
            layers.append(LocallyConnected2d(c_in, c_out, k, stride, padding, size))
        else:
            layers.append(nn.Conv2d(c_in, c_out, k, stride, padding))
        layers += [nn.BatchNorm2d(c_out), nn.ReLU()]
        c_in, size = c_out, (size + 2 * padding - k) // stride + 1
    layers += [nn.Flatten(), nn.Linear(c_in * size * size, HIDDEN), nn.ReLU(),
               nn.Linear(HIDDEN, CLASSES)]
    return nn.Sequential(*layers)


def run_python(kind, data, steps, warmup, batch, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    images, labels = load_cifar(data)
    images = torch.from_numpy(images)
    labels = torch.from_numpy(labels)
    floats = images[:5000].float() / 255
    mean = floats.mean(dim=(0, 2, 3)).view(1, 3, 1, 1)
    std = floats.std(dim=(0, 2, 3)).view(1, 3, 1, 1)
    model = build_model(kind)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    order = torch.randperm(images.shape[0])

    def next_batch(step):
        start = (step * batch) % (images.shape[0] - batch + 1)
        index = order[start:start + batch]
        x = (images[index].float() / 255 - mean) / std
        # random crop with 4-pixel zero padding, then horizontal flip (the CIFAR recipe)
        padded = F.pad(x, (4, 4, 4, 4))
        dy = torch.randint(0, 9, (batch,))
        dx = torch.randint(0, 9, (batch,))
        x = torch.stack([padded[i, :, dy[i]:dy[i] + 32, dx[i]:dx[i] + 32] for i in range(batch)])
        flip = torch.rand(batch) < 0.5
        x[flip] = x[flip].flip(3)
        return x, labels[index]

    start = None
    for step in range(warmup + steps):
        if step == warmup:
            start = time.perf_counter()
        x, y = next_batch(step)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.item()  # synchronises like nosharing's per-step loss check
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"impl": "python", "model": kind,
                      "images_per_second": round(steps * batch / seconds, 2),
                      "steps": steps, "batch": batch, "threads": torch.get_num_threads(),
                      "blas_core": blas_core_name()}))


def read_nosharing_run(run_dir, kind, warmup, batch):
    lines = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
    train = [line for line in lines if line.get("kind") == "train"]
    first = next((line for line in train if line["step"] == warmup), None)
    last = train[-1] if train else None
    if first is None or last is None or last["step"] <= warmup:
        raise SystemExit(f"train_peers.py: {run_dir}/metrics.jsonl has no train lines at step "
                         f"{warmup} and after")
    provenance = json.load(open(os.path.join(run_dir, "provenance.json")))
    steps = last["step"] - first["step"]
    print(json.dumps({"impl": "nosharing", "model": kind,
                      "images_per_second": round(steps * batch / (last["seconds"] - first["seconds"]), 2),
                      "steps": steps, "batch": batch, "threads": provenance.get("threads"),
                      "blas_core": provenance.get("blas_kernel", "unknown")}))


def print_table(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    configs = []
    for row in rows:
        if row["config"] not in configs:
            configs.append(row["config"])
    for config in configs:
        mine = {(r["impl"], r["model"]): r for r in rows if r["config"] == config}
        cores = sorted({r["blas_core"] for r in mine.values()})
        print(f"\n## {config} — OpenBLAS kernel: {', '.join(cores)}\n")
        print("| ott-cifar, batch 128 | nosharing img/s | Python PyTorch img/s | nosharing / Python |")
        print("| --- | ---: | ---: | ---: |")
        for kind, label in (("unshared", "unshared (Python: unfold + einsum)"),
                            ("twin", "twin (conv)")):
            ours, theirs = mine.get(("nosharing", kind)), mine.get(("python", kind))
            cells = [label,
                     f"{ours['images_per_second']:.0f}" if ours else "–",
                     f"{theirs['images_per_second']:.0f}" if theirs else "–"]
            if ours and theirs:
                ratio = ours["images_per_second"] / theirs["images_per_second"]
                floor = " (floor ≥ 3: " + ("met)" if ratio >= 3 else "missed ✗)") if kind == "unshared" else ""
                cells.append(f"{ratio:.2f}{floor}")
            else:
                cells.append("–")
            print("| " + " | ".join(cells) + " |")
        for impl in ("nosharing", "python"):
            unshared, twin = mine.get((impl, "unshared")), mine.get((impl, "twin"))
            if unshared and twin:
                print(f"\n{impl}: unshared / twin images/s = "
                      f"{unshared['images_per_second'] / twin['images_per_second']:.2f}", end="")
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", choices=["unshared", "twin"])
    parser.add_argument("--nosharing-run")
    parser.add_argument("--model", choices=["unshared", "twin"])
    parser.add_argument("--data")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--table")
    args = parser.parse_args()
    if args.run:
        if not args.data:
            parser.error("--run needs --data")
        run_python(args.run, args.data, args.steps, args.warmup, args.batch, args.threads)
    elif args.nosharing_run:
        read_nosharing_run(args.nosharing_run, args.model, args.warmup, args.batch)
    elif args.table:
        print_table(args.table)
    else:
        parser.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
