#!/usr/bin/env python3
"""Runs the TopographicTrainStep benchmarks (bench/topography_bench.cc) in one process and
prints, per network, each loss's training-step time next to the step without a loss and the
overhead in percent (issue 5: at most 25 %).

    python3 bench/topography_overhead.py [build/nosharing_bench] [extra benchmark flags...]

Repetitions interleave nothing (Google Benchmark runs each case to completion), so run it on a
quiet machine; --benchmark_repetitions=3 reports medians.
"""
import json
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "build/nosharing_bench"
extra = sys.argv[2:]
out = subprocess.run(
    [binary, "--benchmark_filter=TopographicTrainStep", "--benchmark_format=json"] + extra,
    check=True, capture_output=True, text=True).stdout
rows = {}
for b in json.loads(out)["benchmarks"]:
    if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
        continue
    _, network, loss = b["run_name"].split("/")
    rows.setdefault(network, {})[loss] = b["real_time"]  # ms (Unit kMillisecond)
for network, times in rows.items():
    base = times.get("none")
    print(f"{network}: step without a loss {base:.1f} ms")
    for loss, ms in times.items():
        if loss == "none":
            continue
        verdict = "ok" if ms <= 1.25 * base else "OVER 25 %"
        print(f"  {loss:20s} {ms:8.1f} ms  {100 * (ms / base - 1):+6.1f} %  {verdict}")
