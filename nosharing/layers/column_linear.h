// Per-column linear layer: a grid of L feature columns [B, L, D_in] in which every column owns
// its affine map, y[b, l] = W_l · x[b, l] + bias_l (DESIGN §2: the layers of the Mapformer's
// ColumnMlp, and an unshared patch embedding). With all W_l equal it is torch::nn::Linear
// applied to every column — the shared twin.
//
// Weight [L, D_out, D_in] (column l's slice is an nn::Linear weight), bias [L, D_out].
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

namespace nosharing {

struct ColumnLinearOptions {
  ColumnLinearOptions(int64_t columns, int64_t in_features, int64_t out_features);

  // L: the number of columns (h·w of the grid), part of the options because the weight has one
  // matrix per column.
  TORCH_ARG(int64_t, columns);
  TORCH_ARG(int64_t, in_features);
  TORCH_ARG(int64_t, out_features);
  TORCH_ARG(bool, bias) = true;
  // Run the plain LibTorch path (one baddbmm with columns as the batch, column_linear_reference)
  // instead of the fast CPU kernel (cpu/column_linear_function.h). Both compute the same
  // function; the reference is the oracle the fast path is tested against.
  TORCH_ARG(bool, reference) = false;
};

// Throws c10::Error naming the bad value unless columns, in_features and out_features are all
// >= 1.
void check_column_linear_options(const ColumnLinearOptions& options);

// The plain-LibTorch definition, differentiated by LibTorch's autograd: input [B, L, D_in],
// weight [L, D_out, D_in], bias [L, D_out] or undefined → [B, L, D_out] (a transposed view of
// an [L, B, D_out] result). It transposes the input to [L, B, D_in] for bmm, the copy the fast
// kernel avoids.
torch::Tensor column_linear_reference(const torch::Tensor& input, const torch::Tensor& weight,
                                      const torch::Tensor& bias);

class ColumnLinearImpl : public torch::nn::Cloneable<ColumnLinearImpl> {
 public:
  ColumnLinearImpl(int64_t columns, int64_t in_features, int64_t out_features)
      : ColumnLinearImpl(ColumnLinearOptions(columns, in_features, out_features)) {}
  explicit ColumnLinearImpl(ColumnLinearOptions options);

  void reset() override;
  // Like torch::nn::Linear (kaiming-uniform, a = √5): weight and bias ~ U(−1/√D_in, 1/√D_in),
  // drawn independently for every column.
  void reset_parameters();

  // input [B, L, D_in] → [B, L, D_out]. L and D_in must match the options. The fast kernel
  // runs for float32/float64 CPU tensors unless options.reference(); anything else (another
  // dtype or device) takes the reference path.
  torch::Tensor forward(const torch::Tensor& input);

  void pretty_print(std::ostream& stream) const override;

  ColumnLinearOptions options;
  torch::Tensor weight;  // [L, D_out, D_in]
  torch::Tensor bias;    // [L, D_out], undefined if options.bias() is false
};

TORCH_MODULE(ColumnLinear);

}  // namespace nosharing
