"""nosharing's unshared layers for PyTorch users.

The fast CPU kernels of the C++ library, registered as torch.ops.nosharing.locally_connected2d
and torch.ops.nosharing.column_linear by the operator library the build makes
(build/python/libnosharing_torch_ops.so), and two modules around them:

    import torch, nosharing_torch
    layer = nosharing_torch.LocallyConnected2d(3, 64, 5, input_size=32, stride=2, padding=2)
    y = layer(torch.randn(8, 3, 32, 32))        # [8, 64, 16, 16], every position its own kernel
    y.sum().backward()

The operator library is found at $NOSHARING_TORCH_OPS, else in build/python/ of the checkout
this package sits in; load_library(path) loads another. It must be built against the same
LibTorch as this torch (Debian's python3-torch and libtorch-dev are one source package).
Weight layouts are those of the C++ API (nosharing/layers/locally_connected.h, column_linear.h).
"""
import math
import os

import torch

__all__ = ["load_library", "LocallyConnected2d", "ColumnLinear", "conv_output_size"]

_loaded_path = None


def _default_library_path():
    env = os.environ.get("NOSHARING_TORCH_OPS")
    if env:
        return env
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(checkout, "build", "python", "libnosharing_torch_ops.so")


def load_library(path=None):
    """Loads the operator library once (later calls return the path loaded first).

    path: the .so to load; default $NOSHARING_TORCH_OPS, else build/python/ of this checkout.
    Raises FileNotFoundError naming the path when there is no such file.
    """
    global _loaded_path
    if _loaded_path is not None:
        return _loaded_path
    path = path or _default_library_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"nosharing_torch: no operator library at {path} (build it with "
            f"`cmake --build build --target nosharing_torch_ops`, or set NOSHARING_TORCH_OPS)")
    torch.ops.load_library(path)
    _loaded_path = path
    return path


def conv_output_size(size, kernel_size, stride, padding):
    """(size + 2·padding − kernel) // stride + 1, as for a convolution."""
    return (size + 2 * padding - kernel_size) // stride + 1


def _uniform_init(weight, bias, fan_in):
    """PyTorch's default for conv and linear layers (kaiming-uniform, a = √5): weight and bias
    ~ U(−1/√fan_in, 1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    with torch.no_grad():
        weight.uniform_(-bound, bound)
        if bias is not None:
            bias.uniform_(-bound, bound)


def _pair(size):
    if isinstance(size, int):
        return size, size
    height, width = size
    return int(height), int(width)


class LocallyConnected2d(torch.nn.Module):
    """A convolution-shaped layer in which every output position owns its kernel.

    input [B, C_in, H, W] → [B, C_out, H_out, W_out]. weight [H_out·W_out, C_out, C_in·k·k]
    (position p = y·W_out + x; the inner axis (c_in, ky, kx), so position p's slice is a conv
    weight flattened), bias [H_out·W_out, C_out]. Square kernels, zero padding, CPU float32 or
    float64. The input size is an argument because the number of positions depends on it.
    Initialised like nn.Conv2d: weight and bias ~ U(−1/√fan_in, 1/√fan_in), fan_in = C_in·k·k,
    independently at every position.
    """

    def __init__(self, in_channels, out_channels, kernel_size, input_size, stride=1, padding=0,
                 bias=True, dtype=None):
        super().__init__()
        load_library()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = int(kernel_size)
        self.input_size = _pair(input_size)
        self.stride = int(stride)
        self.padding = int(padding)
        for name in ("in_channels", "out_channels", "kernel_size", "stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"LocallyConnected2d: {name} must be >= 1, got {getattr(self, name)}")
        if self.padding < 0:
            raise ValueError(f"LocallyConnected2d: padding must be >= 0, got {self.padding}")
        self.output_size = tuple(conv_output_size(s, self.kernel_size, self.stride, self.padding)
                                 for s in self.input_size)
        if min(self.output_size) < 1:
            raise ValueError(
                f"LocallyConnected2d: kernel {self.kernel_size} does not fit input "
                f"{self.input_size[0]}x{self.input_size[1]} with padding {self.padding}")
        positions = self.output_size[0] * self.output_size[1]
        fan_in = self.in_channels * self.kernel_size * self.kernel_size
        self.weight = torch.nn.Parameter(
            torch.empty(positions, self.out_channels, fan_in, dtype=dtype))
        if bias:
            self.bias = torch.nn.Parameter(torch.empty(positions, self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self.weight, self.bias, fan_in=self.weight.shape[2])

    @classmethod
    def from_conv2d(cls, conv, input_size):
        """The unshared layer that computes `conv` on inputs of input_size: its kernel (and
        bias) copied to every position. conv must have square kernels, equal strides and
        paddings, zero padding, no dilation and one group."""
        k = conv.kernel_size[0]
        if (conv.kernel_size[0] != conv.kernel_size[1] or conv.stride[0] != conv.stride[1]
                or isinstance(conv.padding, str) or conv.padding[0] != conv.padding[1]
                or conv.dilation != (1, 1) or conv.groups != 1 or conv.padding_mode != "zeros"):
            raise ValueError(
                f"LocallyConnected2d.from_conv2d: needs square kernels, equal strides and "
                f"paddings, zero padding, no dilation, one group; got {conv}")
        layer = cls(conv.in_channels, conv.out_channels, k, input_size, stride=conv.stride[0],
                    padding=conv.padding[0], bias=conv.bias is not None, dtype=conv.weight.dtype)
        positions = layer.weight.shape[0]
        with torch.no_grad():
            layer.weight.copy_(conv.weight.reshape(1, conv.out_channels, -1).expand(positions, -1, -1))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias.unsqueeze(0).expand(positions, -1))
        return layer

    def forward(self, input):
        return torch.ops.nosharing.locally_connected2d(input, self.weight, self.bias,
                                                       self.stride, self.padding)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"input_size={self.input_size}, stride={self.stride}, padding={self.padding}, "
                f"bias={self.bias is not None}")


class ColumnLinear(torch.nn.Module):
    """A grid of L feature columns [B, L, D_in] in which every column owns its affine map:
    y[b, l] = W_l · x[b, l] + bias_l → [B, L, D_out]. weight [L, D_out, D_in] (column l's slice
    is an nn.Linear weight), bias [L, D_out]. Initialised like nn.Linear, every column
    independently. CPU float32 or float64.
    """

    def __init__(self, columns, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        load_library()
        self.columns = int(columns)
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        for name in ("columns", "in_features", "out_features"):
            if getattr(self, name) < 1:
                raise ValueError(f"ColumnLinear: {name} must be >= 1, got {getattr(self, name)}")
        self.weight = torch.nn.Parameter(
            torch.empty(self.columns, self.out_features, self.in_features, dtype=dtype))
        if bias:
            self.bias = torch.nn.Parameter(torch.empty(self.columns, self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self.weight, self.bias, fan_in=self.in_features)

    @classmethod
    def from_linear(cls, linear, columns):
        """The per-column layer that applies `linear` to each of `columns` columns."""
        layer = cls(columns, linear.in_features, linear.out_features,
                    bias=linear.bias is not None, dtype=linear.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(linear.weight.unsqueeze(0).expand(columns, -1, -1))
            if linear.bias is not None:
                layer.bias.copy_(linear.bias.unsqueeze(0).expand(columns, -1))
        return layer

    def forward(self, input):
        return torch.ops.nosharing.column_linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"columns={self.columns}, in_features={self.in_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
