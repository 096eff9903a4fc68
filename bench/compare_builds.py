#!/usr/bin/env python3
"""Compares two builds of the benchmark binary on the same cases: runs them alternately
(A B, B A, A B, ...) for N rounds of 0.2 s per case and prints, per case, each build's
minimum and median real time and the ratio of the medians (B / A). On a shared VM whose speed
drifts by ±20 % over minutes, alternating short runs spreads the drift over both builds; a
ratio within ~0.1 of 1 is not a difference.

    python3 bench/compare_builds.py FILTER ROUNDS BINARY_A BINARY_B [extra benchmark flags...]

e.g. keep a copy of the binary before a change and compare:
    cp build/nosharing_bench /tmp/bench_before   # then rebuild with the change
    python3 bench/compare_builds.py 'TopographicLossAlone/alltnn-small/topoloss' 10 \\
        /tmp/bench_before build/nosharing_bench
"""
import json
import statistics
import subprocess
import sys

if len(sys.argv) < 5:
    sys.exit(__doc__)
case_filter, rounds, binaries, extra = sys.argv[1], int(sys.argv[2]), sys.argv[3:5], sys.argv[5:]
times = ({}, {})  # per build (by position: the two may be the same file), case → real times
for round_index in range(rounds):
    for which in ((0, 1) if round_index % 2 == 0 else (1, 0)):
        out = subprocess.run(
            [binaries[which], f"--benchmark_filter={case_filter}", "--benchmark_format=json",
             "--benchmark_min_time=0.2"] + extra,
            check=True, capture_output=True, text=True).stdout
        for row in json.loads(out)["benchmarks"]:
            times[which].setdefault(row["run_name"], []).append(row["real_time"])
for case, a_times in times[0].items():
    b_times = times[1].get(case)
    if not b_times:
        print(f"{case}: only in {binaries[0]}")
        continue
    ratio = statistics.median(b_times) / statistics.median(a_times)
    print(f"{case}\n  A min {min(a_times):8.3f}  median {statistics.median(a_times):8.3f}"
          f"   B min {min(b_times):8.3f}  median {statistics.median(b_times):8.3f}"
          f"   B/A {ratio:.3f}")
