#include "nosharing/layers/cpu/locally_connected_function.h"

#include "nosharing/layers/cpu/locally_connected_kernel.h"

namespace nosharing {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

torch::Tensor LocallyConnectedFunction::forward(AutogradContext* ctx, const torch::Tensor& input,
                                                const torch::Tensor& weight,
                                                const torch::Tensor& bias, int64_t stride,
                                                int64_t padding) {
  const LocallyConnectedGeometry g = make_locally_connected_geometry(input, weight, stride, padding);
  // An absent bias arrives as the 1-D empty placeholder (see locally_connected_forward_fast).
  const bool has_bias = bias.dim() == 2;
  const torch::Tensor input_chwn = nchw_to_chwn(input);
  ctx->save_for_backward({input_chwn, weight});
  ctx->saved_data["stride"] = stride;
  ctx->saved_data["padding"] = padding;
  ctx->saved_data["has_bias"] = has_bias;
  ctx->saved_data["input_batch_innermost"] = is_batch_innermost(input);
  return locally_connected_forward_cpu(g, input_chwn, weight, has_bias ? bias : torch::Tensor());
}

variable_list LocallyConnectedFunction::backward(AutogradContext* ctx, variable_list grad_outputs) {
  // The kernels build no graph: under create_graph the gradients would silently be constants.
  TORCH_CHECK(!torch::GradMode::is_enabled(),
              "locally_connected_forward_fast: double backward (create_graph=true) is not "
              "supported; use locally_connected_reference for higher-order gradients");
  const auto saved = ctx->get_saved_variables();
  const torch::Tensor& input_chwn = saved[0];
  const torch::Tensor& weight = saved[1];
  const int64_t stride = ctx->saved_data["stride"].toInt();
  const int64_t padding = ctx->saved_data["padding"].toInt();
  const bool has_bias = ctx->saved_data["has_bias"].toBool();
  // Geometry from the CHWN sizes: an NCHW view of them is all make_…_geometry looks at.
  const LocallyConnectedGeometry g = make_locally_connected_geometry(
      input_chwn.permute({3, 0, 1, 2}), weight, stride, padding);
  const torch::Tensor& grad_output = grad_outputs[0];
  if (!grad_output.defined()) return {torch::Tensor(), torch::Tensor(), torch::Tensor(),
                                      torch::Tensor(), torch::Tensor()};
  const std::array<bool, 3> needs = {ctx->needs_input_grad(0), ctx->needs_input_grad(1),
                                     has_bias && ctx->needs_input_grad(2)};
  LocallyConnectedGrads grads =
      locally_connected_backward_cpu(g, grad_output, input_chwn, weight, needs);
  // The input gradient comes back batch-innermost. Hand it over in the input's own layout:
  // for a batch-innermost input (another unshared layer's output) as is; otherwise as
  // contiguous NCHW, which AccumulateGrad then adopts instead of copying it with a strided
  // clone (slower, and a fresh heap allocation every step).
  torch::Tensor grad_input = grads.input;
  if (grad_input.defined() && !ctx->saved_data["input_batch_innermost"].toBool()) {
    grad_input = chwn_to_nchw(grad_input.permute({1, 2, 3, 0}));
  }
  return {grad_input, grads.weight, grads.bias, torch::Tensor(), torch::Tensor()};
}

torch::Tensor locally_connected_forward_fast(const torch::Tensor& input,
                                             const torch::Tensor& weight,
                                             const torch::Tensor& bias, int64_t stride,
                                             int64_t padding) {
  const LocallyConnectedGeometry g = make_locally_connected_geometry(input, weight, stride, padding);
  TORCH_CHECK(input.scalar_type() == weight.scalar_type(), "locally connected: input dtype ",
              input.scalar_type(), " differs from weight dtype ", weight.scalar_type());
  if (!bias.defined()) {
    // Custom autograd functions cannot take undefined tensors as inputs (LibTorch 1.13 reads
    // their device): an empty 1-D tensor stands for "no bias" and gets no gradient.
    return LocallyConnectedFunction::apply(input, weight, torch::empty({0}, weight.options()),
                                           stride, padding);
  }
  TORCH_CHECK(bias.dim() == 2 && bias.size(0) == g.positions() && bias.size(1) == g.out_channels,
              "locally connected: bias must be [P, C_out] = [", g.positions(), ", ",
              g.out_channels, "], got ", bias.sizes());
  TORCH_CHECK(bias.scalar_type() == weight.scalar_type(), "locally connected: bias dtype ",
              bias.scalar_type(), " differs from weight dtype ", weight.scalar_type());
  return LocallyConnectedFunction::apply(input, weight, bias, stride, padding);
}

}  // namespace nosharing
