#!/usr/bin/env python3
"""Runs the TopographicTrainStep benchmarks (bench/topography_bench.cc) in one process and
prints, per network, each loss's training-step time next to the step without a loss and the
overhead in percent (issue 5: at most 25 %), and the OpenBLAS kernel that ran.

    python3 bench/topography_overhead.py [build/nosharing_bench] [extra benchmark flags...]

It runs two passes: with the environment as the machine sets it, and with OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE unset (OpenBLAS's own kernel choice); if neither is set, the second pass
forces OPENBLAS_CORETYPE=Haswell instead, so both kernels show. Each pass runs every case 9
times for 0.3 s in random interleaved order and reports medians: step times on a shared
2-core VM drift by ±20 % over minutes and dip for a minute at a time, and many short
interleaved samples spread both over all cases instead of charging them to whichever ran
last. Beside each step it prints the loss alone (TopographicLossAlone: forward + backward
of the loss over the network's layers, the same interleaving), as a share of the step
without a loss: the loss's own cost, which the step's difference adds the loss's share of
the gradient accumulation to and which the VM's drift moves much less. Run it on a quiet
machine; it takes about a quarter of an hour (each repetition builds its network).
"""
import json
import os
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "build/nosharing_bench"
extra = sys.argv[2:]


def medians(filter_regex, env):
    out = subprocess.run(
        [binary, f"--benchmark_filter={filter_regex}", "--benchmark_format=json",
         "--benchmark_repetitions=9", "--benchmark_enable_random_interleaving=true",
         "--benchmark_min_time=0.3"] + extra,
        check=True, capture_output=True, text=True, env=env).stdout
    rows, kernels = {}, set()
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":  # the repetitions' median only
            continue
        # run_name: <family>/<network>/<loss>[/min_time:…/real_time]
        _, network, loss = b["run_name"].split("/")[:3]
        rows.setdefault(network, {})[loss] = b["real_time"]  # ms (Unit kMillisecond)
        if b.get("label"):
            kernels.add(b["label"])
    return rows, kernels


def run_pass(title, env):
    rows, kernels = medians("TopographicTrainStep", env)
    alone, _ = medians("TopographicLossAlone", env)
    print(f"== {title}: OpenBLAS kernel {', '.join(sorted(kernels)) or 'unknown'}")
    for network, times in rows.items():
        base = times.get("none")
        print(f"{network}: step without a loss {base:.1f} ms")
        for loss, ms in times.items():
            if loss == "none":
                continue
            verdict = "ok" if ms <= 1.25 * base else "OVER 25 %"
            own = alone.get(network, {}).get(loss)
            own_text = f"alone {own:5.2f} ms = {100 * own / base:4.1f} %" if own else ""
            print(f"  {loss:20s} {ms:8.1f} ms  {100 * (ms / base - 1):+6.1f} %  {verdict:9s}"
                  f"  {own_text}")
    sys.stdout.flush()


env = dict(os.environ)
run_pass(f"OPENBLAS_CORETYPE={env.get('OPENBLAS_CORETYPE', 'unset')} (as set)", env)
if env.get("OPENBLAS_CORETYPE") or env.get("OPENBLAS_L2_SIZE"):
    unset = {k: v for k, v in env.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    run_pass("OPENBLAS_CORETYPE/L2_SIZE unset", unset)
else:
    run_pass("OPENBLAS_CORETYPE=Haswell", dict(env, OPENBLAS_CORETYPE="Haswell"))
