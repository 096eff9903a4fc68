// Fast CPU kernels for the per-column linear layer (DESIGN §2, the Mapformer's ColumnMlp):
// every column l of a grid of L columns owns its own affine map,
//   y[b, l, :] = W_l · x[b, l, :] + bias_l,
// input [B, L, D_in], weight [L, D_out, D_in], bias [L, D_out] → output [B, L, D_out].
//
// Strategy (why it is fast):
// - One GEMM per column, with the operands read where they lie: column l of a [B, L, D_in]
//   tensor is a [B, D_in] matrix whose rows are L·D_in apart, which BLAS takes as is (a row
//   stride). No transposed copy of the input ([L, B, D_in], what bmm needs) is made, and the
//   output [B, L, D_out] is written in place, column by column.
// - OpenMP over columns (at::parallel_for), OpenBLAS single-threaded inside (blas.h):
//   columns are independent, so there is no reduction across threads and results are bitwise
//   independent of the number of threads.
// - Backward, per column: grad_x_l [B, D_in] = G_l [B, D_out] · W_l; grad_W_l = G_lᵀ · x_l;
//   grad_bias_l = Σ_b G_l[b, :] (summed over b in a fixed order).
// - Large outputs and gradients come from the recycling pool (large_buffer_pool.h; fresh
//   > 32 MB allocations page-fault at ~0.45 ms/MB here, DESIGN §9).
// Parallelism is over columns only: with fewer columns than threads some threads idle (the
// Mapformer has L = h·w ≥ 16 columns).
#pragma once

#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>

namespace nosharing {

struct ColumnLinearGeometry {
  int64_t batch = 0;
  int64_t columns = 0;       // L
  int64_t in_features = 0;   // D_in
  int64_t out_features = 0;  // D_out

  // Multiply-adds ×2 of one forward pass.
  double forward_flops() const {
    return 2.0 * batch * columns * in_features * out_features;
  }
};

// Geometry of input [B, L, D_in] with weight [L, D_out, D_in]; bias, if defined, must be
// [L, D_out]. Throws c10::Error (TORCH_CHECK) naming the offending sizes.
ColumnLinearGeometry make_column_linear_geometry(const at::Tensor& input,
                                                 const at::Tensor& weight,
                                                 const at::Tensor& bias);

// True when the kernels read x [B, L, D] in place: the feature axis is dense (stride 1) and
// batch rows do not overlap (stride(0) ≥ D, or B = 1). Anything else (e.g. a transposed
// view) is copied to contiguous first. A contiguous tensor, a column slice x[:, a:b] or a
// feature slice x[..., a:b] qualify.
bool column_linear_reads_in_place(const at::Tensor& x);

// Forward. input [B, L, D_in] (any layout; see column_linear_reads_in_place), weight
// [L, D_out, D_in], bias [L, D_out] or undefined; float32 or float64, all one dtype, CPU.
// Returns a contiguous output [B, L, D_out].
at::Tensor column_linear_forward_cpu(const at::Tensor& input, const at::Tensor& weight,
                                     const at::Tensor& bias);

struct ColumnLinearGrads {
  at::Tensor input;   // [B, L, D_in], contiguous (undefined unless asked for)
  at::Tensor weight;  // [L, D_out, D_in]
  at::Tensor bias;    // [L, D_out]
};

// Backward. grad_output [B, L, D_out] (any layout), input and weight as in the forward.
// `needs` = {input, weight, bias}: gradients not needed are not computed.
ColumnLinearGrads column_linear_backward_cpu(const at::Tensor& grad_output,
                                             const at::Tensor& input, const at::Tensor& weight,
                                             std::array<bool, 3> needs);

}  // namespace nosharing
