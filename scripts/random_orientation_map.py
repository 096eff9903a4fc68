#!/usr/bin/env python3
"""Planted truth for `nosharing measure-map` (docs/RESULTS.md, "Maps you can trust").

A Gaussian-random-field orientation map (Wolf & Geisel 1998): complex white noise band-passed
to a narrow ring |k| = 1/Λ, θ = arg(z)/2. It has π pinwheels per Λ².

Usage: /usr/bin/python3 scripts/random_orientation_map.py SIDE PERIOD SEED OUT.npy [shuffle]
("shuffle" permutes the cells: the same orientations without a map).
"""
import sys

import numpy as np

n, period, seed, out = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(seed)
f = np.fft.fftfreq(n)
k = np.hypot(f[:, None], f[None, :])
noise = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
z = np.fft.ifft2(np.fft.fft2(noise) * np.exp(-(k - 1 / period) ** 2 / (2 * (0.05 / period) ** 2)))
theta = np.mod(np.angle(z) / 2, np.pi)
if len(sys.argv) > 5 and sys.argv[5] == "shuffle":
    theta = rng.permutation(theta.ravel()).reshape(n, n)
np.save(out, theta)
