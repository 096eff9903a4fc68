// The fast locally connected layer as a LibTorch autograd function (forward and backward
// run the kernels of locally_connected_kernel.h). The plain-LibTorch oracle is
// locally_connected_reference (nosharing/layers/locally_connected_reference.h).
#pragma once

#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>

#include <cstdint>

namespace nosharing {

// Autograd node: saves the input in CHWN layout ([C_in, H, W, B]) for the backward, not the
// unfold tensor.
struct LocallyConnectedFunction : public torch::autograd::Function<LocallyConnectedFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               int64_t stride, int64_t padding);
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs);
};

// input [B, C_in, H, W], weight [P, C_out, C_in·k·k] (P = H_out·W_out, k inferred from the
// weight), bias [P, C_out] or undefined → output [B, C_out, H_out, W_out]. float32 or
// float64 on the CPU; differentiable in all three (first order only: a backward with
// create_graph throws). No fallback: bad shapes throw (TORCH_CHECK)
// with the sizes in the message.
torch::Tensor locally_connected_forward_fast(const torch::Tensor& input,
                                             const torch::Tensor& weight,
                                             const torch::Tensor& bias, int64_t stride,
                                             int64_t padding);

}  // namespace nosharing
