#include "nosharing/layers/cpu/column_linear_function.h"

#include "nosharing/layers/cpu/column_linear_kernel.h"

namespace nosharing {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor ColumnLinearFunction::forward(AutogradContext* ctx, const torch::Tensor& input,
                                            const torch::Tensor& weight,
                                            const torch::Tensor& bias) {
  // An absent bias arrives as the 1-D empty placeholder (see column_linear_forward_fast).
  const bool has_bias = bias.dim() == 2;
  ctx->save_for_backward({input, weight});
  ctx->saved_data["has_bias"] = has_bias;
  return column_linear_forward_cpu(input, weight, has_bias ? bias : torch::Tensor());
}

variable_list ColumnLinearFunction::backward(AutogradContext* ctx, variable_list grad_outputs) {
  // The kernels build no graph: under create_graph the gradients would silently be constants.
  TORCH_CHECK(!torch::GradMode::is_enabled(),
              "column_linear_forward_fast: double backward (create_graph=true) is not "
              "supported; use column_linear_reference for higher-order gradients");
  const torch::Tensor& grad_output = grad_outputs[0];
  if (!grad_output.defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor()};
  const auto saved = ctx->get_saved_variables();
  const bool has_bias = ctx->saved_data["has_bias"].toBool();
  const std::array<bool, 3> needs = {ctx->needs_input_grad(0), ctx->needs_input_grad(1),
                                     has_bias && ctx->needs_input_grad(2)};
  ColumnLinearGrads grads = column_linear_backward_cpu(grad_output, saved[0], saved[1], needs);
  return {grads.input, grads.weight, grads.bias};
}

torch::Tensor column_linear_forward_fast(const torch::Tensor& input, const torch::Tensor& weight,
                                         const torch::Tensor& bias) {
  make_column_linear_geometry(input, weight, bias);  // shape errors before autograd sees them
  TORCH_CHECK(input.scalar_type() == weight.scalar_type(), "column linear: input dtype ",
              input.scalar_type(), " differs from weight dtype ", weight.scalar_type());
  if (!bias.defined()) {
    // Custom autograd functions cannot take undefined tensors as inputs (LibTorch 1.13 reads
    // their device): an empty 1-D tensor stands for "no bias" and gets no gradient.
    return ColumnLinearFunction::apply(input, weight, torch::empty({0}, weight.options()));
  }
  TORCH_CHECK(bias.scalar_type() == weight.scalar_type(), "column linear: bias dtype ",
              bias.scalar_type(), " differs from weight dtype ", weight.scalar_type());
  return ColumnLinearFunction::apply(input, weight, bias);
}

}  // namespace nosharing
