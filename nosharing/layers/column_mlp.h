// Column MLP (DESIGN §2, the Mapformer of seed 000): every column of a grid [B, L, D] owns
// its 2-layer MLP,
//   out_bl = W2_l · GELU(W1_l · x_bl + b1_l) + b2_l,
// W1 [L, H, D], W2 [L, D_out, H] (two ColumnLinear layers), hidden H = max(1, round(D ·
// mlp_ratio)). The default ratio 1/8 (DESIGN §2) keeps an unshared MLP's 2·L·D·H weights
// comparable to one shared ViT MLP of ratio 4 when L ≈ 64: every column pays for its own.
// GELU is the exact (erf) form. With all columns' weights equal it is one shared MLP applied
// to every column.
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>

#include "nosharing/layers/column_linear.h"

namespace nosharing {

struct ColumnMlpOptions {
  ColumnMlpOptions(int64_t columns, int64_t dim);

  TORCH_ARG(int64_t, columns);  // L
  TORCH_ARG(int64_t, dim);      // D, input channels per column
  // Output channels per column (0: dim, the residual case).
  TORCH_ARG(int64_t, out_dim) = 0;
  TORCH_ARG(double, mlp_ratio) = 0.125;
  // Both ColumnLinear layers run their plain LibTorch reference path (the oracle).
  TORCH_ARG(bool, reference) = false;
};

// max(1, round(dim · mlp_ratio)); throws c10::Error naming the values unless dim ≥ 1 and
// mlp_ratio > 0.
int64_t column_mlp_hidden(int64_t dim, double mlp_ratio);

// The definition the module runs, for given weights: x [B, L, D], w1 [L, H, D], b1 [L, H],
// w2 [L, D_out, H], b2 [L, D_out] → [B, L, D_out], through the fast ColumnLinear kernel
// (float32/float64 CPU) or, with `reference`, column_linear_reference.
torch::Tensor column_mlp(const torch::Tensor& x, const torch::Tensor& w1, const torch::Tensor& b1,
                         const torch::Tensor& w2, const torch::Tensor& b2, bool reference = false);

class ColumnMlpImpl : public torch::nn::Cloneable<ColumnMlpImpl> {
 public:
  ColumnMlpImpl(int64_t columns, int64_t dim) : ColumnMlpImpl(ColumnMlpOptions(columns, dim)) {}
  explicit ColumnMlpImpl(ColumnMlpOptions options);

  void reset() override;

  // x [B, L, D] → [B, L, D_out].
  torch::Tensor forward(const torch::Tensor& x);

  int64_t hidden() const { return column_mlp_hidden(options.dim(), options.mlp_ratio()); }
  void pretty_print(std::ostream& stream) const override;

  ColumnMlpOptions options;
  ColumnLinear fc1{nullptr};  // [L, H, D]
  ColumnLinear fc2{nullptr};  // [L, D_out, H]
};

TORCH_MODULE(ColumnMlp);

}  // namespace nosharing
