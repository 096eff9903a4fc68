"""`nosharing export` read back in Python: the weights with torch.load, the maps with
numpy.load, checked against what the run itself reports (`nosharing info --json`,
analysis.json).

Trains a tiny model (12×12 images it writes itself) with the CLI at $NOSHARING_CLI (ctest
sets it; by hand: NOSHARING_CLI=build/nosharing).
"""
import gzip
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch


def write_idx_split(folder, prefix, count, size, classes, rng):
    """Fashion-MNIST's IDX format, gzipped: class c lights the c-th horizontal band."""
    labels = np.arange(count, dtype=np.uint8) % classes
    images = rng.integers(0, 60, size=(count, size, size), dtype=np.uint8)
    band = max(1, size // classes)
    for i, label in enumerate(labels):
        images[i, label * band:(label + 1) * band, :] += 180
    with gzip.open(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), "wb") as f:
        f.write(np.array([0x803, count, size, size], dtype=">u4").tobytes() + images.tobytes())
    with gzip.open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), "wb") as f:
        f.write(np.array([0x801, count], dtype=">u4").tobytes() + labels.tobytes())


def weight_snr_squared(weight):
    """mean_j (mean_i w_ij)² / var_i(w_ij) over positions i (nosharing/sharing/weight_snr.h)."""
    w = weight.double().reshape(weight.shape[0], -1)
    return ((w.mean(0) ** 2) / w.var(0, unbiased=True)).mean().item()


class ExportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cli = os.environ.get("NOSHARING_CLI", "build/nosharing")
        cls.folder = tempfile.TemporaryDirectory(prefix="nosharing-export-")
        data = os.path.join(cls.folder.name, "data")
        os.makedirs(data)
        rng = np.random.default_rng(5)
        write_idx_split(data, "train", 320, 12, 4, rng)
        write_idx_split(data, "t10k", 64, 12, 4, rng)
        cls.run_dir = os.path.join(cls.folder.name, "run")
        subprocess.run(
            [cls.cli, "train", "--data", data, "--out", cls.run_dir, "--quiet", "--threads", "1",
             "--set", "model.preset=fmnist-hypercolumn-topo", "--set", "model.channels=[4, 9]",
             "--set", "train.batch_size=32", "--set", "train.max_steps=6",
             "--set", "train.warmup_steps=1", "--set", "data.threads=1",
             "--set", "analysis.rf_units=16", "--set", "analysis.max_images=64"],
            check=True, capture_output=True, text=True)
        result = subprocess.run([cls.cli, "export", "--run", cls.run_dir], check=True,
                                capture_output=True, text=True)
        cls.last_line = result.stdout.strip().splitlines()[-1]
        cls.info = json.loads(subprocess.run([cls.cli, "info", "--run", cls.run_dir, "--json"],
                                             check=True, capture_output=True, text=True).stdout)
        with open(os.path.join(cls.run_dir, "analysis.json")) as f:
            cls.analysis = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.folder.cleanup()

    def test_weights_load_with_torch_and_match_the_run(self):
        weights = torch.load(os.path.join(self.run_dir, "model.pt"))
        self.assertIsInstance(weights, dict)
        # `info` counts each layer's parameters; the export adds the buffers (BatchNorm's
        # running statistics, the fixed retina's kernel).
        buffers = ("running_mean", "running_var", "num_batches_tracked")
        for layer in self.info["parameters"]["layers"]:
            with self.subTest(layer=layer["name"]):
                exported = [v.numel() for k, v in weights.items()
                            if k.startswith(layer["name"] + ".") and not k.endswith(buffers)]
                self.assertEqual(sum(exported), layer["parameters"])
        # lc1: 12×12 positions (5×5 kernel, padding 2 on 12×12 images), 4 kernels each.
        self.assertEqual(tuple(weights["lc1.weight"].shape[:2]), (12 * 12, 4))
        for layer, snr in self.info["weight_snr"].items():
            with self.subTest(layer=layer):
                self.assertAlmostEqual(weight_snr_squared(weights[f"{layer}.weight"]),
                                       snr["squared"], delta=1e-9 * max(1.0, snr["squared"]))

    def test_maps_load_with_numpy_and_match_the_analysis(self):
        self.assertEqual(self.last_line, os.path.join(self.run_dir, "model.npz"))
        maps = np.load(self.last_line)
        for layer in self.analysis["layers"]:
            name = layer["name"]
            with self.subTest(layer=name):
                selectivity = maps[f"{name}.orientation_selectivity"]
                preferred = maps[f"{name}.preferred_orientation"]
                units = selectivity.shape[0]
                self.assertEqual(preferred.shape, (units,))
                self.assertEqual(maps[f"{name}.coordinates"].shape, (units, 2))
                self.assertEqual(maps[f"{name}.dprime"].shape,
                                 (len(self.analysis["classes"]), units))
                finite = np.isfinite(selectivity)
                self.assertAlmostEqual(float(np.mean(selectivity[finite] > 0.4)),
                                       layer["orientation"]["selective_fraction"], places=12)
                self.assertTrue(np.all((preferred[np.isfinite(preferred)] >= 0)
                                       & (preferred[np.isfinite(preferred)] < np.pi)))
                grid = maps[f"{name}.orientation_map_units"].astype(np.int64)
                np.testing.assert_array_equal(maps[f"{name}.orientation_map"], preferred[grid])
        # lc1 is a hypercolumn sheet: one unit per point of a 24×24 sheet (12² × 2×2).
        self.assertEqual(maps["lc1.orientation_map"].shape, (24, 24))


if __name__ == "__main__":
    unittest.main()
