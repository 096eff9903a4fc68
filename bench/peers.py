#!/usr/bin/python3
"""Python PyTorch peers of the unshared layers, and the side-by-side table.

  peers.py --one METHOD:SHAPE [--threads N] [--seconds S]
      One fwd+bwd measurement (batch 128) in this process, printed as one JSON line like
      nosharing_bench --one. Locally connected shapes — METHOD: einsum (unfold + einsum, the
      usual Python formulation), bmm (unfold, positions as the bmm batch), bmm_contiguous
      (same with the patch tensor made contiguous first). Column linear shapes (col_…) —
      einsum ("bli,loi->blo"), bmm (baddbmm on the transposed view, columns as the batch),
      bmm_contiguous (the transposed input made contiguous first). For both: op
      (torch.ops.nosharing, our kernels called from Python; needs NOSHARING_TORCH_OPS or a
      build/python/ library) and the shared twin in Python, conv2d or linear.
  peers.py --table FILE
      Reads the JSON lines side_by_side.sh collected and prints the table and the floors.
  peers.py --ops-table FILE
      Reads the JSON lines torch_ops.sh collected: the op against einsum and the twin.

Run with Debian's /usr/bin/python3 (python3-torch); DESIGN §9.
"""
import argparse
import json
import os
import sys
import time

BATCH = 128
# name: (C_in, size, C_out, k, stride, padding) — the same list as bench/locally_connected_bench.cc
SHAPES = {
    "c3_32_k64_k5": (3, 32, 64, 5, 1, 2),
    "c64_16_k128_k3": (64, 16, 128, 3, 1, 1),
    "c128_8_k256_k3": (128, 8, 256, 3, 1, 1),
    "ott_lc1_c3_32_k64_k5_s2": (3, 32, 64, 5, 2, 2),
    "ott_lc2_c64_16_k128_k5_s2": (64, 16, 128, 5, 2, 2),
}
# Per-column linear layers, name: (L, D_in, D_out) — the same list as
# bench/column_linear_bench.cc.
COLUMN_SHAPES = {
    "col_l64_d256_d256": (64, 256, 256),
    "col_l256_d128_d16": (256, 128, 16),
    "col_l256_d16_d128": (256, 16, 128),
    "col_l64_d48_d128": (64, 48, 128),
}
# The two larger DESIGN §9 shapes carry the 65 %-of-ceiling floor.
CEILING_SHAPES = ("c64_16_k128_k3", "c128_8_k256_k3")


def out_size(shape):
    c_in, size, c_out, k, s, p = shape
    return (size + 2 * p - k) // s + 1


def step_flops(shape):
    if len(shape) == 3:  # column linear (L, D_in, D_out)
        columns, d_in, d_out = shape
        return 3.0 * 2.0 * BATCH * columns * d_in * d_out
    c_in, size, c_out, k, s, p = shape
    return 3.0 * 2.0 * BATCH * out_size(shape) ** 2 * c_out * c_in * k * k


def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    return -1


def reset_peak_rss():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_one(spec, threads, seconds):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    method, name = spec.split(":")
    torch.manual_seed(0)
    if name in COLUMN_SHAPES:
        shape = COLUMN_SHAPES[name]
        forward, x, w, b, grad_out = column_linear_case(method, shape)
    else:
        shape = SHAPES[name]
        forward, x, w, b, grad_out = locally_connected_case(method, shape)

    def step():
        forward().backward(grad_out)
        x.grad = w.grad = b.grad = None

    warm = torch.randn(64, 64)
    warm @ warm  # lazy initialisation outside the measurement
    before_kb = status_kb("VmRSS:")
    peak_reset = reset_peak_rss()
    for _ in range(2):
        step()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (len(times) < 50 and time.perf_counter() - start < seconds):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    ms = times[len(times) // 2]
    extra_mb = (status_kb("VmHWM:") - before_kb) / 1024 if peak_reset else -1
    print(json.dumps({
        "method": method, "shape": name, "ms": round(ms, 3),
        "gflops": round(step_flops(shape) / (ms * 1e6), 2), "extra_mb": round(extra_mb, 1),
        "blas_core": blas_core_name(), "threads": torch.get_num_threads(),
    }))


def column_linear_case(method, shape):
    """forward(), input, weight, bias, grad_output of one column linear measurement."""
    import torch

    columns, d_in, d_out = shape
    x = torch.randn(BATCH, columns, d_in, requires_grad=True)
    w = (torch.randn(columns, d_out, d_in) / d_in ** 0.5).requires_grad_()
    b = torch.zeros(columns, d_out, requires_grad=True)
    grad_out = torch.randn(BATCH, columns, d_out)

    if method == "op":
        load_torch_ops()
    if method == "linear":  # the shared twin: one weight for every column
        w = w[0].detach().clone().requires_grad_()
        b = b[0].detach().clone().requires_grad_()

    def forward():
        if method == "einsum":
            return torch.einsum("bli,loi->blo", x, w) + b
        if method == "op":
            return torch.ops.nosharing.column_linear(x, w, b)
        if method == "linear":
            return torch.nn.functional.linear(x, w, b)
        if method in ("bmm", "bmm_contiguous"):
            columns_first = x.transpose(0, 1)  # [L, B, D_in]
            if method == "bmm_contiguous":
                columns_first = columns_first.contiguous()
            return torch.baddbmm(b.unsqueeze(1), columns_first, w.transpose(1, 2)).transpose(0, 1)
        raise SystemExit(f"unknown method {method!r} (einsum | bmm | bmm_contiguous | op | linear)")

    return forward, x, w, b, grad_out


def load_torch_ops():
    """Loads the operator library through the package in python/ beside bench/."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
    import nosharing_torch
    nosharing_torch.load_library()


def locally_connected_case(method, shape):
    """forward(), input, weight, bias, grad_output of one locally connected measurement."""
    import torch
    import torch.nn.functional as F

    c_in, size, c_out, k, s, p = shape
    n_out = out_size(shape)
    positions = n_out * n_out
    x = torch.randn(BATCH, c_in, size, size, requires_grad=True)
    w = (torch.randn(positions, c_out, c_in * k * k) / (c_in * k * k) ** 0.5).requires_grad_()
    b = torch.zeros(positions, c_out, requires_grad=True)
    grad_out = torch.randn(BATCH, c_out, n_out, n_out)

    if method == "op":
        load_torch_ops()
    if method == "conv2d":  # the shared twin: one kernel for every position
        w = w[0].detach().reshape(c_out, c_in, k, k).clone().requires_grad_()
        b = b[0].detach().clone().requires_grad_()

    def forward():
        if method == "op":
            return torch.ops.nosharing.locally_connected2d(x, w, b, s, p)
        if method == "conv2d":
            return F.conv2d(x, w, b, stride=s, padding=p)
        cols = F.unfold(x, k, padding=p, stride=s)  # [B, C_in·k·k, P]
        if method == "einsum":
            out = torch.einsum("bip,poi->bop", cols, w) + b.t().unsqueeze(0)
        elif method in ("bmm", "bmm_contiguous"):
            cols = cols.permute(2, 0, 1)  # [P, B, C_in·k·k]
            if method == "bmm_contiguous":
                cols = cols.contiguous()
            out = torch.bmm(cols, w.transpose(1, 2)) + b.unsqueeze(1)  # [P, B, C_out]
            out = out.permute(1, 2, 0)
        else:
            raise SystemExit(
                f"unknown method {method!r} (einsum | bmm | bmm_contiguous | op | conv2d)")
        return out.reshape(BATCH, c_out, n_out, n_out)

    return forward, x, w, b, grad_out


def blas_core_name():
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except OSError:
        return "unknown"


def ratio_cells(by, ceiling_gflops, twin, floors):
    """× einsum, × best bmm, of ceiling, time / twin, memory / einsum for one shape's rows;
    with floors, a ✗ marks each missed floor of the issue."""
    fast = by["fast"]

    def mark(ok):
        return "" if ok or not floors else " ✗"

    cells = []
    if "einsum" in by:
        x = by["einsum"]["ms"] / fast["ms"]
        cells.append(f"{x:.1f}{mark(x >= 10)}")
    else:
        cells.append("–")
    bmms = [by[m]["ms"] for m in ("bmm", "bmm_contiguous") if m in by]
    if bmms:
        x = min(bmms) / fast["ms"]
        cells.append(f"{x:.1f}{mark(x >= 2)}")
    else:
        cells.append("–")
    frac = fast["gflops"] / ceiling_gflops
    cells.append(f"{frac:.0%}{mark(frac >= 0.65) if floors == 'ceiling' else ''}")
    if twin in by:
        x = fast["ms"] / by[twin]["ms"]
        cells.append(f"{x:.2f}{mark(x <= 1.5)}")
    else:
        cells.append("–")
    if "einsum" in by and by["einsum"]["extra_mb"] > 0:
        x = fast["extra_mb"] / by["einsum"]["extra_mb"]
        cells.append(f"{x:.2f}{mark(x <= 0.5)}")
    else:
        cells.append("–")
    return cells


def print_table(path):
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    configs = []
    for row in rows:
        if row["config"] not in configs:
            configs.append(row["config"])
    methods = ["fast", "reference", "einsum", "bmm", "bmm_contiguous", "conv2d", "linear"]
    for config in configs:
        mine = [r for r in rows if r["config"] == config]
        ceiling = next((r for r in mine if r["method"] == "sgemm"), None)
        ceiling_gflops = ceiling["gflops"] if ceiling else float("nan")
        cores = sorted({r["blas_core"] for r in mine})
        backends = sorted({r["sgemm_backend"] for r in mine if "sgemm_backend" in r})
        print(f"\n## {config} — OpenBLAS kernel: {', '.join(cores)}; our kernels' float GEMMs: "
              f"{', '.join(backends) or 'unknown'}; OpenBLAS sgemm 2048³ ceiling "
              f"{ceiling_gflops:.0f} GFLOP/s ({ceiling['ms'] if ceiling else float('nan'):.1f} ms)\n")
        print("| shape | method | ms | GFLOP/s | of ceiling | extra MB |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for name in list(SHAPES) + list(COLUMN_SHAPES):
            by = {r["method"]: r for r in mine if r["shape"] == name}
            for method in methods:
                r = by.get(method)
                if r is None:
                    continue
                print(f"| {name} | {method} | {r['ms']:.1f} | {r['gflops']:.1f} | "
                      f"{r['gflops'] / ceiling_gflops:.0%} | {r['extra_mb']:.0f} |")
        print("\nFloors (fwd+bwd): fast vs einsum ≥ 10×, vs best bmm ≥ 2×, ≥ 65 % of ceiling "
              "(two larger DESIGN shapes), ≤ 1.5× conv2d time, memory ≤ ½ einsum's\n")
        print("| shape | × einsum | × best bmm | of ceiling | time / conv2d | memory / einsum |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name in SHAPES:
            by = {r["method"]: r for r in mine if r["shape"] == name}
            if "fast" in by:
                floors = "ceiling" if name in CEILING_SHAPES else True
                cells = ratio_cells(by, ceiling_gflops, "conv2d", floors)
                print("| " + " | ".join([name] + cells) + " |")
        column_rows = [n for n in COLUMN_SHAPES
                       if any(r["shape"] == n and r["method"] == "fast" for r in mine)]
        if column_rows:
            print("\nColumn linear (no floors in the issue; twin = one shared torch.linear)\n")
            print("| shape | × einsum | × best bmm | of ceiling | time / linear "
                  "| memory / einsum |")
            print("| --- | ---: | ---: | ---: | ---: | ---: |")
            for name in column_rows:
                by = {r["method"]: r for r in mine if r["shape"] == name}
                cells = ratio_cells(by, ceiling_gflops, "linear", False)
                print("| " + " | ".join([name] + cells) + " |")


def print_ops_table(path):
    """The op (our kernels through torch.ops) against Python's unfold+einsum and the shared
    twin (conv2d / linear) of the same shape, fwd+bwd; issue 25's floors for the locally
    connected shapes: ≥ 10× einsum, ≤ 1.3× conv2d's time."""
    rows = [json.loads(line) for line in open(path) if line.startswith("{")]
    cores = sorted({r["blas_core"] for r in rows})
    threads = sorted({r["threads"] for r in rows})
    print(f"OpenBLAS kernel {', '.join(cores)}; threads {threads}; batch {BATCH}; fwd+bwd, median ms\n")
    print("| shape | op ms | einsum ms | twin ms | × einsum (≥ 10) | time / twin (≤ 1.3) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in list(SHAPES) + list(COLUMN_SHAPES):
        by = {r["method"]: r for r in rows if r["shape"] == name}
        if "op" not in by:
            continue
        twin = by.get("conv2d") or by.get("linear")
        op = by["op"]["ms"]
        einsum = by["einsum"]["ms"] if "einsum" in by else float("nan")
        twin_ms = twin["ms"] if twin else float("nan")
        floors = name in SHAPES
        x_einsum, x_twin = einsum / op, op / twin_ms
        print(f"| {name} | {op:.1f} | {einsum:.1f} | {twin_ms:.1f} | {x_einsum:.1f}"
              f"{' ✗' if floors and x_einsum < 10 else ''} | {x_twin:.2f}"
              f"{' ✗' if floors and x_twin > 1.3 else ''} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--one")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--table")
    parser.add_argument("--ops-table")
    args = parser.parse_args()
    if args.one:
        run_one(args.one, args.threads, args.seconds)
    elif args.table:
        print_table(args.table)
    elif args.ops_table:
        print_ops_table(args.ops_table)
    else:
        parser.print_help()
        sys.exit(2)


if __name__ == "__main__":
    main()
