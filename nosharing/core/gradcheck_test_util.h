// Test-only: compares autograd gradients with float64 central finite differences, the check
// every custom autograd function and layer gets (DESIGN §7).
#pragma once

#include <gtest/gtest.h>
#include <torch/types.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace nosharing::test_util {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-6;
  double rtol = 1e-4;
};

// `function` maps the inputs to any tensor. The inputs are cloned to float64 leaves, the
// output is contracted with a fixed random tensor of its shape (so one backward checks every
// output element) and each input element's gradient is compared with
// (f(x + eps) − f(x − eps)) / (2·eps). Keep inputs small: this costs two forward passes per
// element.
inline ::testing::AssertionResult gradients_match_finite_differences(
    const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& function,
    const std::vector<torch::Tensor>& inputs, const GradcheckOptions& options = {}) {
  std::vector<torch::Tensor> leaves;
  for (const auto& input : inputs) {
    leaves.push_back(input.detach().to(torch::kFloat64).clone().requires_grad_(true));
  }
  const torch::Tensor output = function(leaves);
  if (output.scalar_type() != torch::kFloat64) {
    return ::testing::AssertionFailure() << "function returned " << output.scalar_type()
                                         << " for float64 inputs";
  }
  const torch::Tensor projection =
      torch::randn(output.sizes(), torch::TensorOptions().dtype(torch::kFloat64));
  const auto scalar = [&](const std::vector<torch::Tensor>& values) {
    return (function(values) * projection).sum().item<double>();
  };
  (output * projection).sum().backward();

  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> values;
  for (const auto& leaf : leaves) values.push_back(leaf.detach().clone());
  for (size_t i = 0; i < values.size(); ++i) {
    const torch::Tensor analytic =
        leaves[i].grad().defined() ? leaves[i].grad() : torch::zeros_like(values[i]);
    auto flat = values[i].view({-1});
    auto analytic_flat = analytic.reshape({-1});
    for (int64_t j = 0; j < flat.numel(); ++j) {
      const double original = flat[j].item<double>();
      flat[j] = original + options.eps;
      const double plus = scalar(values);
      flat[j] = original - options.eps;
      const double minus = scalar(values);
      flat[j] = original;
      const double numeric = (plus - minus) / (2 * options.eps);
      const double automatic = analytic_flat[j].item<double>();
      if (std::abs(numeric - automatic) > options.atol + options.rtol * std::abs(numeric)) {
        return ::testing::AssertionFailure()
               << "input " << i << " (shape " << values[i].sizes() << ") element " << j
               << ": autograd " << automatic << " vs finite differences " << numeric;
      }
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace nosharing::test_util
