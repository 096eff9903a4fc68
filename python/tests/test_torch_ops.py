"""torch.ops.nosharing against plain PyTorch: unfold+einsum for the locally connected layer,
einsum for the per-column linear layer; float64 gradcheck of our backward; the tied layer
against conv2d / linear; a TorchScript round trip; bad shapes refused with their sizes.

Run by ctest (test `python`) with PYTHONPATH=python and NOSHARING_TORCH_OPS set to the
built library; by hand: PYTHONPATH=python NOSHARING_TORCH_OPS=build/python/libnosharing_torch_ops.so
/usr/bin/python3 -m unittest discover -s python/tests
"""
import io
import unittest

import torch
import torch.nn.functional as F

import nosharing_torch
from nosharing_torch import ColumnLinear, LocallyConnected2d


def locally_connected_reference(x, weight, bias, kernel_size, stride, padding):
    """The usual Python formulation: unfold the patches, contract each position with its own
    kernel."""
    batch, _, height, width = x.shape
    out_h = (height + 2 * padding - kernel_size) // stride + 1
    out_w = (width + 2 * padding - kernel_size) // stride + 1
    cols = F.unfold(x, kernel_size, padding=padding, stride=stride)  # [B, C_in·k·k, P]
    out = torch.einsum("bip,poi->bop", cols, weight)  # [B, C_out, P]
    if bias is not None:
        out = out + bias.t().unsqueeze(0)
    return out.reshape(batch, weight.shape[1], out_h, out_w)


def layers_of(geometries, dtype=None):
    """(geometry, LocallyConnected2d) for each (C_in, C_out, k, (H, W), stride, padding, bias)."""
    for c_in, c_out, k, size, stride, padding, bias in geometries:
        yield ((c_in, c_out, k, size, stride, padding, bias),
               LocallyConnected2d(c_in, c_out, k, size, stride=stride, padding=padding, bias=bias,
                                  dtype=dtype))


def column_linear_reference(x, weight, bias):
    out = torch.einsum("bli,loi->blo", x, weight)
    return out if bias is None else out + bias


class LocallyConnected2dTest(unittest.TestCase):
    # (C_in, C_out, k, (H, W), stride, padding, bias): odd and unequal sizes, strides, paddings
    GEOMETRIES = [
        (3, 8, 5, (12, 12), 1, 2, True),
        (4, 6, 3, (9, 7), 2, 1, True),
        (2, 5, 3, (8, 11), 1, 0, False),
        (5, 3, 1, (6, 5), 1, 0, True),
        (3, 4, 4, (10, 9), 3, 2, True),
    ]

    def test_matches_unfold_einsum_in_float32(self):
        torch.manual_seed(0)
        for geometry, layer in layers_of(self.GEOMETRIES):
            c_in, c_out, k, size, stride, padding, bias = geometry
            with self.subTest(geometry=geometry):
                x = torch.randn(7, c_in, *size)
                expected = locally_connected_reference(x, layer.weight, layer.bias, k, stride,
                                                       padding)
                got = layer(x)
                self.assertEqual(tuple(got.shape), (7, c_out) + layer.output_size)
                torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)

    def test_gradients_match_unfold_einsum(self):
        torch.manual_seed(1)
        for geometry, layer in layers_of(self.GEOMETRIES):
            c_in, c_out, k, size, stride, padding, bias = geometry
            with self.subTest(geometry=geometry):
                x = torch.randn(5, c_in, *size, requires_grad=True)
                grad_out = torch.randn(5, c_out, *layer.output_size)
                params = [x, layer.weight] + ([layer.bias] if bias else [])
                got = torch.autograd.grad(layer(x), params, grad_out)
                ref = torch.autograd.grad(
                    locally_connected_reference(x, layer.weight, layer.bias, k, stride, padding),
                    params, grad_out)
                for g, r in zip(got, ref):
                    torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)

    # Small enough for finite differences over every weight (gradcheck perturbs each element).
    GRADCHECK_GEOMETRIES = [
        (2, 3, 3, (5, 4), 1, 1, True),
        (2, 2, 2, (6, 5), 2, 0, False),
        (1, 2, 3, (7, 6), 2, 2, True),
    ]

    def test_float64_gradcheck(self):
        torch.manual_seed(2)
        for geometry, layer in layers_of(self.GRADCHECK_GEOMETRIES, dtype=torch.float64):
            c_in, c_out, k, size, stride, padding, bias = geometry
            with self.subTest(geometry=geometry):
                x = torch.randn(2, c_in, *size, dtype=torch.float64, requires_grad=True)
                w = layer.weight.detach().clone().requires_grad_()
                b = layer.bias.detach().clone().requires_grad_() if bias else None
                inputs = (x, w) + ((b,) if bias else ())

                def op(x, w, b=None):
                    return torch.ops.nosharing.locally_connected2d(x, w, b, stride, padding)

                self.assertTrue(torch.autograd.gradcheck(op, inputs, eps=1e-6, atol=1e-7))

    def test_tied_to_a_conv2d_computes_the_convolution(self):
        torch.manual_seed(3)
        conv = torch.nn.Conv2d(3, 8, 5, stride=2, padding=2)
        layer = LocallyConnected2d.from_conv2d(conv, (15, 13))
        self.assertEqual(layer.output_size, (8, 7))
        x = torch.randn(4, 3, 15, 13)
        torch.testing.assert_close(layer(x), conv(x), rtol=1e-5, atol=1e-5)

    def test_from_conv2d_refuses_what_it_cannot_copy(self):
        with self.assertRaisesRegex(ValueError, "dilation"):
            LocallyConnected2d.from_conv2d(torch.nn.Conv2d(3, 4, 3, dilation=2), 9)
        with self.assertRaisesRegex(ValueError, "square"):
            LocallyConnected2d.from_conv2d(torch.nn.Conv2d(3, 4, (3, 5)), 9)

    def test_init_is_uniform_within_one_over_root_fan_in_at_every_position(self):
        torch.manual_seed(4)
        layer = LocallyConnected2d(4, 16, 3, 10)
        bound = 1.0 / (4 * 9) ** 0.5
        self.assertLessEqual(layer.weight.abs().max().item(), bound)
        # U(−a, a) has standard deviation a/√3; positions are drawn independently.
        self.assertAlmostEqual(layer.weight.std().item(), bound / 3 ** 0.5, delta=0.02 * bound)
        self.assertFalse(torch.equal(layer.weight[0], layer.weight[1]))

    def test_bad_shapes_are_refused_with_their_sizes(self):
        layer = LocallyConnected2d(3, 4, 3, 8)
        with self.assertRaisesRegex(RuntimeError, "locally connected"):
            layer(torch.randn(2, 3, 9, 9))  # 49 positions against the weight's 36
        with self.assertRaisesRegex(RuntimeError, "dtype"):
            torch.ops.nosharing.locally_connected2d(torch.randn(2, 3, 8, 8, dtype=torch.float64),
                                                    layer.weight, None, 1, 0)
        with self.assertRaisesRegex(ValueError, "does not fit"):
            LocallyConnected2d(3, 4, 7, 4)
        with self.assertRaisesRegex(ValueError, "stride must be >= 1"):
            LocallyConnected2d(3, 4, 3, 8, stride=0)

    def test_torchscript_round_trip(self):
        torch.manual_seed(5)
        model = torch.nn.Sequential(LocallyConnected2d(3, 6, 3, 10, padding=1), torch.nn.ReLU(),
                                    LocallyConnected2d(6, 4, 3, 10, stride=2))
        scripted = torch.jit.script(model)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        loaded = torch.jit.load(buffer)
        x = torch.randn(2, 3, 10, 10)
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


class ColumnLinearTest(unittest.TestCase):
    SHAPES = [(6, 5, 7, True), (16, 12, 3, False), (1, 4, 4, True)]  # (L, D_in, D_out, bias)

    def test_matches_einsum_values_and_gradients(self):
        torch.manual_seed(6)
        for columns, d_in, d_out, bias in self.SHAPES:
            with self.subTest(shape=(columns, d_in, d_out, bias)):
                layer = ColumnLinear(columns, d_in, d_out, bias=bias)
                x = torch.randn(9, columns, d_in, requires_grad=True)
                grad_out = torch.randn(9, columns, d_out)
                params = [x, layer.weight] + ([layer.bias] if bias else [])
                got = layer(x)
                ref = column_linear_reference(x, layer.weight, layer.bias)
                torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
                for g, r in zip(torch.autograd.grad(got, params, grad_out),
                                torch.autograd.grad(ref, params, grad_out)):
                    torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)

    def test_float64_gradcheck(self):
        torch.manual_seed(7)
        x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
        w = torch.randn(4, 6, 5, dtype=torch.float64, requires_grad=True)
        b = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
        self.assertTrue(torch.autograd.gradcheck(torch.ops.nosharing.column_linear, (x, w, b),
                                                 eps=1e-6, atol=1e-7))

    def test_tied_to_a_linear_applies_it_to_every_column(self):
        torch.manual_seed(8)
        linear = torch.nn.Linear(5, 3)
        layer = ColumnLinear.from_linear(linear, 6)
        x = torch.randn(4, 6, 5)
        torch.testing.assert_close(layer(x), linear(x), rtol=1e-5, atol=1e-6)

    def test_bad_shapes_are_refused_with_their_sizes(self):
        layer = ColumnLinear(4, 5, 3)
        with self.assertRaisesRegex(RuntimeError, r"column"):
            layer(torch.randn(2, 4, 6))
        with self.assertRaisesRegex(ValueError, "columns must be >= 1"):
            ColumnLinear(0, 5, 3)


class LoadLibraryTest(unittest.TestCase):
    def test_a_missing_library_is_named(self):
        # The library is loaded already (the modules above loaded it): load_library returns
        # the first path; a fresh process with a bad path gets FileNotFoundError naming it.
        self.assertTrue(nosharing_torch.load_library().endswith(".so"))
        import subprocess
        import sys
        result = subprocess.run(
            [sys.executable, "-c", "import nosharing_torch; nosharing_torch.load_library('/nope/x.so')"],
            capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("no operator library at /nope/x.so", result.stderr)


if __name__ == "__main__":
    unittest.main()
