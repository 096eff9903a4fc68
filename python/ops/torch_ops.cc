// The fast unshared layers as PyTorch operators (issue 25): torch.ops.nosharing.
// locally_connected2d and torch.ops.nosharing.column_linear, for a Python that imports the
// same LibTorch (Debian's python3-torch 1.13.1 beside libtorch-dev 1.13.1). Loaded with
// torch.ops.load_library(path); python/nosharing_torch wraps them as nn.Modules.
//
// Both are registered as CompositeImplicitAutograd kernels: they call the same autograd
// functions the C++ library uses (layers/cpu/*_function.h), so the backward is ours, not
// autograd's derivative of a decomposition. The fast functions accept CPU float32/float64
// only and check every shape with a message that names it.
#include <torch/library.h>

#include "nosharing/layers/cpu/column_linear_function.h"
#include "nosharing/layers/cpu/locally_connected_function.h"

namespace {

at::Tensor locally_connected2d(const at::Tensor& input, const at::Tensor& weight,
                               const c10::optional<at::Tensor>& bias, int64_t stride,
                               int64_t padding) {
  return nosharing::locally_connected_forward_fast(input, weight, bias.value_or(at::Tensor()),
                                                   stride, padding);
}

at::Tensor column_linear(const at::Tensor& input, const at::Tensor& weight,
                         const c10::optional<at::Tensor>& bias) {
  return nosharing::column_linear_forward_fast(input, weight, bias.value_or(at::Tensor()));
}

}  // namespace

TORCH_LIBRARY(nosharing, m) {
  // input [B, C_in, H, W], weight [H_out·W_out, C_out, C_in·k·k], bias [H_out·W_out, C_out]
  // → [B, C_out, H_out, W_out]; k is read from the weight.
  m.def("locally_connected2d(Tensor input, Tensor weight, Tensor? bias=None, int stride=1, "
        "int padding=0) -> Tensor",
        &locally_connected2d);
  // input [B, L, D_in], weight [L, D_out, D_in], bias [L, D_out] → [B, L, D_out].
  m.def("column_linear(Tensor input, Tensor weight, Tensor? bias=None) -> Tensor",
        &column_linear);
}
