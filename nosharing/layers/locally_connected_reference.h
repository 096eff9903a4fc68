// The plain-LibTorch locally connected layer (unfold, then one bmm with positions as the
// batch), differentiated by LibTorch's autograd. It is the oracle the fast kernels are tested
// against and the "reference" line of the benchmarks. It materialises the full unfold tensor
// [B, C_in·k·k, P] (and its transposed copy), which is what the fast path avoids.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace nosharing {

// input [B, C_in, H, W], weight [P, C_out, C_in·k·k] (unfold order c·k·k + ky·k + kx),
// bias [P, C_out] or undefined → output [B, C_out, H_out, W_out].
at::Tensor locally_connected_reference(const at::Tensor& input, const at::Tensor& weight,
                                       const at::Tensor& bias, int64_t kernel, int64_t stride,
                                       int64_t padding);

}  // namespace nosharing
