#!/usr/bin/env python3
"""Runs the topography benchmarks (bench/topography_bench.cc) and prints, per network, each
loss's overhead on the training step (issue 5: at most 25 %), the loss alone, and the OpenBLAS
kernel that ran.

    python3 bench/topography_overhead.py [build/nosharing_bench] [extra benchmark flags...]

The overhead comes from TopographicStepPair: the network's step with the loss and without it,
alternately in one loop on one network, each pair's ratio, the median over the pairs and then
over 3 interleaved repetitions of 3 s. On a shared 2-core VM whose speed drifts by ±20 % over
minutes and dips for seconds, steps tens of milliseconds apart see the same machine; separate
runs of the two steps (TopographicTrainStep) charged a dip to whichever ran in it and moved
the same case by 20-30 points between passes. Beside it: the loss alone (TopographicLossAlone,
9 interleaved repetitions of 0.3 s: what the step does for the loss, by itself) as a share of
the step without a loss.

It runs two passes: with the environment as the machine sets it, and with OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE unset (OpenBLAS's own kernel choice); if neither is set, the second pass
forces OPENBLAS_CORETYPE=Haswell instead, so both kernels show. Run it on a quiet machine; it
takes about ten minutes.
"""
import json
import os
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "build/nosharing_bench"
extra = sys.argv[2:]


def run(filter_regex, env, repetitions, min_time):
    out = subprocess.run(
        [binary, f"--benchmark_filter={filter_regex}", "--benchmark_format=json",
         f"--benchmark_repetitions={repetitions}", "--benchmark_enable_random_interleaving=true",
         f"--benchmark_min_time={min_time}"] + extra,
        check=True, capture_output=True, text=True, env=env).stdout
    rows, kernels = {}, set()
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":  # the repetitions' median only
            continue
        # run_name: <family>/<network>/<loss>[/min_time:…/real_time]
        _, network, loss = b["run_name"].split("/")[:3]
        rows.setdefault(network, {})[loss] = b
        if b.get("label"):
            kernels.add(b["label"])
    return rows, kernels


def run_pass(title, env):
    pairs, kernels = run("TopographicStepPair", env, 3, 3)
    alone, _ = run("TopographicLossAlone", env, 9, 0.3)
    print(f"== {title}: OpenBLAS kernel {', '.join(sorted(kernels)) or 'unknown'}")
    for network, cases in pairs.items():
        print(f"{network}:")
        for loss, b in cases.items():
            overhead = b["overhead_percent"]
            base = b["without_loss_ms"]
            verdict = "ok" if overhead <= 25 else "OVER 25 %"
            own = alone.get(network, {}).get(loss, {}).get("real_time")  # ms
            own_text = f"alone {own:5.2f} ms = {100 * own / base:4.1f} %" if own else ""
            print(f"  {loss:20s} {b['with_loss_ms']:6.1f} ms vs {base:6.1f} ms  "
                  f"{overhead:+6.1f} %  {verdict:9s}  {own_text}")
    sys.stdout.flush()


env = dict(os.environ)
run_pass(f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', 'unset')} (as set)", env)
if env.get("OPENBLAS_CORETYPE") or env.get("OPENBLAS_L2_SIZE"):
    unset = {k: v for k, v in env.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    run_pass("OPENBLAS_CORETYPE/L2_SIZE unset", unset)
else:
    run_pass("OPENBLAS_CORETYPE=Haswell", dict(env, OPENBLAS_CORETYPE="Haswell"))
