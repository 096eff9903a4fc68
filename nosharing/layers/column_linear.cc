#include "nosharing/layers/column_linear.h"

#include <ATen/ATen.h>

#include <cmath>

#include "nosharing/layers/cpu/column_linear_function.h"

namespace nosharing {

ColumnLinearOptions::ColumnLinearOptions(int64_t columns, int64_t in_features,
                                         int64_t out_features)
    : columns_(columns), in_features_(in_features), out_features_(out_features) {}

void check_column_linear_options(const ColumnLinearOptions& options) {
  TORCH_CHECK(options.columns() >= 1, "ColumnLinear: columns must be >= 1, got ",
              options.columns());
  TORCH_CHECK(options.in_features() >= 1, "ColumnLinear: in_features must be >= 1, got ",
              options.in_features());
  TORCH_CHECK(options.out_features() >= 1, "ColumnLinear: out_features must be >= 1, got ",
              options.out_features());
}

torch::Tensor column_linear_reference(const torch::Tensor& input, const torch::Tensor& weight,
                                      const torch::Tensor& bias) {
  TORCH_CHECK(input.dim() == 3 && weight.dim() == 3 && weight.size(0) == input.size(1) &&
                  weight.size(2) == input.size(2),
              "column linear: input [B, L, D_in] ", input.sizes(),
              " does not fit weight [L, D_out, D_in] ", weight.sizes());
  const torch::Tensor columns_first = input.transpose(0, 1);  // [L, B, D_in]
  const torch::Tensor weight_t = weight.transpose(1, 2);      // [L, D_in, D_out]
  torch::Tensor out = bias.defined()
                          ? at::baddbmm(bias.unsqueeze(1), columns_first, weight_t)
                          : at::bmm(columns_first, weight_t);  // [L, B, D_out]
  return out.transpose(0, 1);
}

ColumnLinearImpl::ColumnLinearImpl(ColumnLinearOptions options_) : options(std::move(options_)) {
  reset();
}

void ColumnLinearImpl::reset() {
  check_column_linear_options(options);
  weight = register_parameter(
      "weight", torch::empty({options.columns(), options.out_features(), options.in_features()}));
  if (options.bias()) {
    bias = register_parameter("bias", torch::empty({options.columns(), options.out_features()}));
  } else {
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  reset_parameters();
}

void ColumnLinearImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  // kaiming_uniform_(a = √5) has bound √(2 / (1 + 5))·√(3 / fan_in) = 1/√fan_in, the bound
  // torch::nn::Linear also uses for its bias.
  const double bound = 1.0 / std::sqrt(static_cast<double>(options.in_features()));
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.uniform_(-bound, bound);
}

torch::Tensor ColumnLinearImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() == 3 && input.size(1) == options.columns() &&
                  input.size(2) == options.in_features(),
              "ColumnLinear: expected input [B, ", options.columns(), ", ",
              options.in_features(), "], got ", input.sizes());
  const bool fast_kernel_applies =
      input.device().is_cpu() && input.scalar_type() == weight.scalar_type() &&
      (input.scalar_type() == torch::kFloat32 || input.scalar_type() == torch::kFloat64);
  if (options.reference() || !fast_kernel_applies) {
    return column_linear_reference(input, weight, bias);
  }
  return column_linear_forward_fast(input, weight, bias);
}

void ColumnLinearImpl::pretty_print(std::ostream& stream) const {
  stream << "nosharing::ColumnLinear(columns=" << options.columns()
         << ", in_features=" << options.in_features()
         << ", out_features=" << options.out_features();
  if (!options.bias()) stream << ", bias=false";
  if (options.reference()) stream << ", reference=true";
  stream << ")";
}

}  // namespace nosharing
