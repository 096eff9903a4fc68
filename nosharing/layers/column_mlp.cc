#include "nosharing/layers/column_mlp.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "nosharing/layers/cpu/column_linear_function.h"

namespace nosharing {
namespace {

torch::Tensor column_linear_any(const torch::Tensor& x, const torch::Tensor& weight,
                                const torch::Tensor& bias, bool reference) {
  const bool fast = !reference && x.device().is_cpu() && x.scalar_type() == weight.scalar_type() &&
                    (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64);
  return fast ? column_linear_forward_fast(x, weight, bias)
              : column_linear_reference(x, weight, bias);
}

}  // namespace

ColumnMlpOptions::ColumnMlpOptions(int64_t columns, int64_t dim) : columns_(columns), dim_(dim) {}

int64_t column_mlp_hidden(int64_t dim, double mlp_ratio) {
  TORCH_CHECK(dim >= 1, "ColumnMlp: dim must be >= 1, got ", dim);
  TORCH_CHECK(mlp_ratio > 0 && std::isfinite(mlp_ratio),
              "ColumnMlp: mlp_ratio must be a positive number, got ", mlp_ratio);
  return std::max<int64_t>(1, std::llround(static_cast<double>(dim) * mlp_ratio));
}

torch::Tensor column_mlp(const torch::Tensor& x, const torch::Tensor& w1, const torch::Tensor& b1,
                         const torch::Tensor& w2, const torch::Tensor& b2, bool reference) {
  const torch::Tensor hidden = at::gelu(column_linear_any(x, w1, b1, reference));
  return column_linear_any(hidden, w2, b2, reference);
}

ColumnMlpImpl::ColumnMlpImpl(ColumnMlpOptions options_) : options(std::move(options_)) { reset(); }

void ColumnMlpImpl::reset() {
  TORCH_CHECK(options.columns() >= 1, "ColumnMlp: columns must be >= 1, got ", options.columns());
  TORCH_CHECK(options.out_dim() >= 0, "ColumnMlp: out_dim must be >= 0, got ", options.out_dim());
  const int64_t out_dim = options.out_dim() > 0 ? options.out_dim() : options.dim();
  const int64_t h = hidden();
  fc1 = register_module(
      "fc1",
      ColumnLinear(
          ColumnLinearOptions(options.columns(), options.dim(), h).reference(options.reference())));
  fc2 = register_module(
      "fc2",
      ColumnLinear(
          ColumnLinearOptions(options.columns(), h, out_dim).reference(options.reference())));
}

torch::Tensor ColumnMlpImpl::forward(const torch::Tensor& x) {
  return fc2->forward(at::gelu(fc1->forward(x)));
}

void ColumnMlpImpl::pretty_print(std::ostream& stream) const {
  stream << "nosharing::ColumnMlp(columns=" << options.columns() << ", dim=" << options.dim()
         << ", hidden=" << hidden()
         << ", out_dim=" << (options.out_dim() > 0 ? options.out_dim() : options.dim()) << ")";
}

}  // namespace nosharing
