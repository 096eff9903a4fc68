#include "nosharing/layers/cpu/column_linear_kernel.h"

#include <ATen/Dispatch.h>
#include <ATen/Functions.h>
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>

#include "nosharing/core/blas.h"
#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"

namespace nosharing {
namespace {

constexpr const char* kColumnLinearKernel = "column linear kernel";

// A [B, L, D] tensor as the kernels read it: column l's [B, D] matrix starts at
// data + l·column_stride, rows `row_stride` apart, features dense.
template <typename T>
struct Columns {
  const T* data;
  int64_t row_stride;
  int64_t column_stride;
  const T* column(int64_t l) const { return data + l * column_stride; }
};

// x must satisfy column_linear_reads_in_place. BLAS wants a leading dimension ≥ max(1, D)
// even when there is a single row, whatever the tensor's stride(0) is then.
template <typename T>
Columns<T> columns_of(const at::Tensor& x) {
  const int64_t row_stride =
      x.size(0) > 1 ? x.stride(0) : std::max<int64_t>(1, x.size(2));
  return {x.data_ptr<T>(), row_stride, x.stride(1)};
}

at::Tensor readable(const at::Tensor& x) {
  return column_linear_reads_in_place(x) ? x : x.contiguous();
}

template <typename T>
void forward_impl(const ColumnLinearGeometry& g, Columns<T> x, const T* weight, const T* bias,
                  T* out) {
  const int64_t n = g.batch, d_in = g.in_features, d_out = g.out_features;
  const int64_t ld_out = g.columns * d_out;
  BlasSingleThreaded single_threaded_blas;
  at::parallel_for(0, g.columns, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t l = begin; l < end; ++l) {
      T* out_l = out + l * d_out;
      // Rows start as the bias, then the GEMM accumulates onto them: one pass over the
      // output instead of a GEMM pass and a bias pass.
      for (int64_t b = 0; b < n; ++b) {
        T* row = out_l + b * ld_out;
        if (bias != nullptr) {
          std::copy(bias + l * d_out, bias + (l + 1) * d_out, row);
        } else {
          std::fill(row, row + d_out, T(0));
        }
      }
      // out_l [B, D_out] += x_l [B, D_in] · W_lᵀ [D_in, D_out]
      gemm(CblasNoTrans, CblasTrans, n, d_out, d_in, x.column(l), x.row_stride,
           weight + l * d_out * d_in, d_in, out_l, ld_out, /*accumulate=*/true);
    }
  });
}

template <typename T>
void backward_impl(const ColumnLinearGeometry& g, Columns<T> grad_out, Columns<T> x,
                   const T* weight, T* grad_x, T* grad_weight, T* grad_bias) {
  const int64_t n = g.batch, d_in = g.in_features, d_out = g.out_features;
  BlasSingleThreaded single_threaded_blas;
  at::parallel_for(0, g.columns, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t l = begin; l < end; ++l) {
      const T* grad_l = grad_out.column(l);  // G_l [B, D_out]
      const T* weight_l = weight + l * d_out * d_in;
      if (grad_x != nullptr) {
        // grad_x_l [B, D_in] = G_l [B, D_out] · W_l [D_out, D_in]
        gemm(CblasNoTrans, CblasNoTrans, n, d_in, d_out, grad_l, grad_out.row_stride, weight_l,
             d_in, grad_x + l * d_in, g.columns * d_in);
      }
      if (grad_weight != nullptr) {
        // grad_W_l [D_out, D_in] = G_lᵀ [D_out, B] · x_l [B, D_in]
        gemm(CblasTrans, CblasNoTrans, d_out, d_in, n, grad_l, grad_out.row_stride, x.column(l),
             x.row_stride, grad_weight + l * d_out * d_in, d_in);
      }
      if (grad_bias != nullptr) {
        // Σ_b G_l[b, :], rows added in order b = 0, 1, …; the inner loop vectorises.
        T* sum = grad_bias + l * d_out;
        std::fill(sum, sum + d_out, T(0));
        for (int64_t b = 0; b < n; ++b) {
          const T* row = grad_l + b * grad_out.row_stride;
          for (int64_t o = 0; o < d_out; ++o) sum[o] += row[o];
        }
      }
    }
  });
}

}  // namespace

ColumnLinearGeometry make_column_linear_geometry(const at::Tensor& input,
                                                 const at::Tensor& weight,
                                                 const at::Tensor& bias) {
  TORCH_CHECK(input.dim() == 3, "column linear: input must be [B, L, D_in], got ",
              input.sizes());
  TORCH_CHECK(weight.dim() == 3, "column linear: weight must be [L, D_out, D_in], got ",
              weight.sizes());
  ColumnLinearGeometry g;
  g.batch = input.size(0);
  g.columns = input.size(1);
  g.in_features = input.size(2);
  g.out_features = weight.size(1);
  TORCH_CHECK(weight.size(0) == g.columns && weight.size(2) == g.in_features,
              "column linear: weight ", weight.sizes(), " does not fit input ", input.sizes(),
              " (expected [L = ", g.columns, ", D_out, D_in = ", g.in_features, "])");
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 2 && bias.size(0) == g.columns && bias.size(1) == g.out_features,
                "column linear: bias must be [L, D_out] = [", g.columns, ", ", g.out_features,
                "], got ", bias.sizes());
  }
  return g;
}

bool column_linear_reads_in_place(const at::Tensor& x) {
  if (x.dim() != 3) return false;
  const bool dense_features = x.size(2) <= 1 || x.stride(2) == 1;
  const bool separate_rows = x.size(0) <= 1 || x.stride(0) >= std::max<int64_t>(1, x.size(2));
  return dense_features && separate_rows;
}

at::Tensor column_linear_forward_cpu(const at::Tensor& input, const at::Tensor& weight,
                                     const at::Tensor& bias) {
  const ColumnLinearGeometry g = make_column_linear_geometry(input, weight, bias);
  check_floating_cpu(input, kColumnLinearKernel, "input");
  check_floating_cpu(weight, kColumnLinearKernel, "weight");
  TORCH_CHECK(weight.scalar_type() == input.scalar_type(), kColumnLinearKernel, ": weight dtype ",
              weight.scalar_type(), " differs from input dtype ", input.scalar_type());
  if (bias.defined()) {
    check_floating_cpu(bias, kColumnLinearKernel, "bias");
    TORCH_CHECK(bias.scalar_type() == input.scalar_type(), kColumnLinearKernel, ": bias dtype ",
                bias.scalar_type(), " differs from input dtype ", input.scalar_type());
  }
  at::Tensor out = pooled_empty({g.batch, g.columns, g.out_features}, input.options());
  if (out.numel() == 0) return out;
  if (g.in_features == 0) {  // an empty sum: the bias alone (BLAS is not asked for k = 0)
    if (bias.defined()) return out.copy_(bias.unsqueeze(0).expand_as(out));
    return out.zero_();
  }
  const at::Tensor x = readable(input);
  const at::Tensor w = weight.contiguous();
  const at::Tensor b = bias.defined() ? bias.contiguous() : bias;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "column_linear_forward_cpu", [&] {
    forward_impl<scalar_t>(g, columns_of<scalar_t>(x), w.data_ptr<scalar_t>(),
                           b.defined() ? b.data_ptr<scalar_t>() : nullptr,
                           out.data_ptr<scalar_t>());
  });
  return out;
}

ColumnLinearGrads column_linear_backward_cpu(const at::Tensor& grad_output,
                                             const at::Tensor& input, const at::Tensor& weight,
                                             std::array<bool, 3> needs) {
  const ColumnLinearGeometry g = make_column_linear_geometry(input, weight, at::Tensor());
  check_floating_cpu(input, kColumnLinearKernel, "input");
  TORCH_CHECK(grad_output.sizes() == at::IntArrayRef({g.batch, g.columns, g.out_features}),
              kColumnLinearKernel, ": grad_output must be [", g.batch, ", ", g.columns, ", ",
              g.out_features, "], got ", grad_output.sizes());
  const at::Tensor grad_out = readable(grad_output.to(input.scalar_type()));
  const at::Tensor x = readable(input);
  const at::Tensor w = weight.contiguous();
  ColumnLinearGrads grads;
  if (needs[0]) grads.input = pooled_empty(input.sizes(), input.options());
  if (needs[1]) grads.weight = pooled_empty(weight.sizes(), weight.options());
  if (needs[2]) grads.bias = at::empty({g.columns, g.out_features}, weight.options());
  // Degenerate sizes: every sum is empty (B = 0, D_out = 0) or a GEMM would get k = 0 or
  // n = 0, which BLAS is not asked to handle; the answers are zeros.
  const bool empty = g.batch == 0 || g.columns == 0 || g.out_features == 0 ||
                     g.in_features == 0;
  if (empty) {
    for (at::Tensor* t : {&grads.input, &grads.weight, &grads.bias}) {
      if (t->defined()) t->zero_();
    }
    if (needs[2]) grads.bias.copy_(grad_out.sum(0));  // D_in = 0 still has a bias gradient
    return grads;
  }
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "column_linear_backward_cpu", [&] {
    backward_impl<scalar_t>(g, columns_of<scalar_t>(grad_out), columns_of<scalar_t>(x),
                            w.data_ptr<scalar_t>(),
                            needs[0] ? grads.input.data_ptr<scalar_t>() : nullptr,
                            needs[1] ? grads.weight.data_ptr<scalar_t>() : nullptr,
                            needs[2] ? grads.bias.data_ptr<scalar_t>() : nullptr);
  });
  return grads;
}

}  // namespace nosharing
