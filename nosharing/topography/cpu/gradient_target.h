// The gradients that the losses' fused paths add into (TopographicLossImpl::add_gradients):
// a parameter's .grad, written in place by the kernels through its data pointer.
#pragma once

#include <c10/util/Exception.h>
#include <torch/types.h>

namespace nosharing {

// `grad` must be able to take `tensor`'s gradient in place: defined, contiguous, on the CPU,
// of its shape and dtype.
inline void check_gradient_target(const char* what, const torch::Tensor& tensor,
                                  const torch::Tensor& grad) {
  TORCH_CHECK(grad.defined() && grad.is_contiguous() && grad.device().is_cpu() &&
                  grad.sizes() == tensor.sizes() && grad.scalar_type() == tensor.scalar_type(),
              what, ": the gradient to add into must be a contiguous CPU tensor ",
              tensor.sizes(), " of ", tensor.scalar_type(), ", got ",
              grad.defined() ? grad.sizes() : c10::IntArrayRef{}, " of ",
              grad.defined() ? c10::toString(grad.scalar_type()) : "no tensor");
}

}  // namespace nosharing
