// The fast per-column linear layer as a LibTorch autograd function (forward and backward run
// the kernels of column_linear_kernel.h). The plain-LibTorch oracle is column_linear_reference
// (nosharing/layers/column_linear.h).
#pragma once

#include <torch/csrc/autograd/custom_function.h>
#include <torch/types.h>

namespace nosharing {

// Autograd node: saves the input (as given, no copy) and the weight for the backward.
struct ColumnLinearFunction : public torch::autograd::Function<ColumnLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias);
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs);
};

// input [B, L, D_in], weight [L, D_out, D_in], bias [L, D_out] or undefined → output
// [B, L, D_out] (contiguous). float32 or float64 on the CPU, one dtype; differentiable in all
// three (first order only: a backward with create_graph throws). Bad shapes or dtypes throw
// (TORCH_CHECK) with the sizes in the message.
torch::Tensor column_linear_forward_fast(const torch::Tensor& input, const torch::Tensor& weight,
                                         const torch::Tensor& bias);

}  // namespace nosharing
