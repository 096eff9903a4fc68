#include "nosharing/topography/kernel_smoothness.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace kernel_smoothness_test {  // named, not anonymous: the tests compile in unity batches

TopographicLayer make_layer(Sheet sheet, torch::Tensor weight, torch::Tensor bias) {
  TopographicLayer layer{"lc1", std::move(sheet)};
  layer.weight = std::move(weight);
  layer.bias = std::move(bias);
  return layer;
}

TEST(KernelSmoothnessTest, HandComputedTwoByTwoSheet) {
  // One channel on 2×2 positions, kernels of one weight plus the bias: v = [w, b].
  // (0,0) = (1, 0), (0,1) = (0, 1), (1,0) = (1, 1)/√2, (1,1) = (1, 0).
  // Right pairs: cos((1,0),(0,1)) = 0, cos((1,1),(1,0)) = 1/√2 → mean 1/(2√2).
  // Down pairs: cos((1,0),(1,1)) = 1/√2, cos((0,1),(1,0)) = 0 → mean 1/(2√2).
  const auto layer = make_layer(Sheet(SheetOptions(1, 2, 2)),
                                torch::tensor({1.0, 0.0, 1.0, 1.0}).view({4, 1, 1}),
                                torch::tensor({0.0, 1.0, 1.0, 0.0}).view({4, 1}));
  const double s = 1.0 / (2.0 * std::sqrt(2.0));
  EXPECT_NEAR(mean_neighbour_cosine(layer).item<double>(), s, 1e-6);
  EXPECT_NEAR(KernelSmoothnessLoss()->forward(layer).item<double>(), (1 - s) / 2, 1e-6);
}

TEST(KernelSmoothnessTest, IdenticalNeighbourKernelsGiveZero) {
  torch::manual_seed(0);
  const torch::Tensor kernel = torch::randn({7});
  // Every unit the same kernel up to a positive scale: parallel vectors, cosine 1.
  const torch::Tensor scales = torch::rand({9, 4, 1}) + 0.5;
  const torch::Tensor full = kernel.view({1, 1, 7}) * scales;  // [P = 9, C = 4, 7]
  const auto layer = make_layer(Sheet(SheetOptions(4, 3, 3).layout(SheetLayout::kHypercolumn)),
                                full.narrow(2, 0, 6).contiguous(),
                                full.select(2, 6).contiguous());
  EXPECT_NEAR(KernelSmoothnessLoss()->forward(layer).item<double>(), 0.0, 1e-6);
}

TEST(KernelSmoothnessTest, HypercolumnNeighboursAreOtherChannels) {
  // Each channel owns one random kernel at every position: smooth per channel (column
  // layout: loss 0), but neighbouring cells of a hypercolumn sheet are different channels.
  torch::manual_seed(1);
  const torch::Tensor weight = torch::randn({1, 4, 5}).expand({9, 4, 5}).contiguous();
  const torch::Tensor bias = torch::randn({1, 4}).expand({9, 4}).contiguous();
  const auto column = make_layer(Sheet(SheetOptions(4, 3, 3)), weight, bias);
  const auto hyper =
      make_layer(Sheet(SheetOptions(4, 3, 3).layout(SheetLayout::kHypercolumn)), weight, bias);
  EXPECT_NEAR(KernelSmoothnessLoss()->forward(column).item<double>(), 0.0, 1e-6);
  EXPECT_GT(KernelSmoothnessLoss()->forward(hyper).item<double>(), 0.1);
}

TEST(KernelSmoothnessTest, SingleUnitAndOneRowSheets) {
  const auto single = make_layer(Sheet(SheetOptions(1, 1, 1)), torch::randn({1, 1, 3}),
                                 torch::Tensor());
  EXPECT_EQ(KernelSmoothnessLoss()->forward(single).item<double>(), 0.0);
  // One row: only right pairs, (1, 0) and (−1, 0): cos −1 → S = −1, L = 1.
  const auto row = make_layer(Sheet(SheetOptions(1, 1, 2)),
                              torch::tensor({1.0, -1.0}).view({2, 1, 1}), torch::Tensor());
  EXPECT_NEAR(KernelSmoothnessLoss()->forward(row).item<double>(), 1.0, 1e-6);
}

TEST(KernelSmoothnessTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(2);
  const Sheet sheet(SheetOptions(4, 2, 2).layout(SheetLayout::kHypercolumn));
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        return KernelSmoothnessLoss()->forward(make_layer(sheet, in[0], in[1]));
      },
      {torch::randn({4, 4, 3}), torch::randn({4, 4})}));
}

// The fused function against the plain LibTorch form on every layout (with and without bias,
// uneven sheets, float32 and float64): values and gradients.
TEST(KernelSmoothnessTest, FusedMatchesTheReference) {
  torch::manual_seed(3);
  const std::vector<Sheet> sheets = {
      Sheet(SheetOptions(4, 3, 5)),
      Sheet(SheetOptions(9, 2, 3).layout(SheetLayout::kHypercolumn)),
      Sheet(SheetOptions(3, 4, 2).layout(SheetLayout::kRetinotopic)),
      Sheet(SheetOptions(2, 1, 4))};
  for (const Sheet& sheet : sheets) {
    const int64_t c = sheet.options().channels();
    const int64_t p = sheet.num_units() / c;
    for (const bool with_bias : {true, false}) {
      for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
        const torch::Tensor w0 = torch::randn({p, c, 7}, dtype);
        const torch::Tensor b0 = torch::randn({p, c}, dtype);
        std::vector<torch::Tensor> grads;
        std::vector<double> values;
        for (const bool fused : {true, false}) {
          const torch::Tensor w = w0.clone().requires_grad_(true);
          const torch::Tensor b = b0.clone().requires_grad_(true);
          const auto layer = make_layer(sheet, w, b);
          const torch::Tensor s = fused ? mean_neighbour_cosine(layer, with_bias)
                                        : mean_neighbour_cosine_reference(layer, with_bias);
          (s * 3).backward();
          values.push_back(s.item<double>());
          grads.push_back(w.grad());
          grads.push_back(with_bias ? b.grad() : torch::zeros_like(b));
        }
        const double tolerance = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
        EXPECT_NEAR(values[0], values[1], tolerance) << sheet.num_units() << " units";
        EXPECT_TRUE(torch::allclose(grads[0], grads[2], tolerance, tolerance));
        EXPECT_TRUE(torch::allclose(grads[1], grads[3], tolerance, tolerance));
      }
    }
  }
}

// A zero kernel (norm below the floor ε = 1e-12) has cosine 0 with everything, as
// normalize_rows makes it, and its gradient is the neighbours' direction scaled by 1/ε.
TEST(KernelSmoothnessTest, FusedGradientMatchesFiniteDifferencesAndZeroKernels) {
  torch::manual_seed(4);
  const Sheet sheet(SheetOptions(4, 2, 3).layout(SheetLayout::kHypercolumn));
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        return mean_neighbour_cosine(make_layer(sheet, in[0], in[1]));
      },
      {torch::randn({6, 4, 3}), torch::randn({6, 4})}));
  torch::Tensor w = torch::randn({6, 4, 3}, torch::kFloat64);
  torch::Tensor b = torch::randn({6, 4}, torch::kFloat64);
  w[2][1].zero_();
  b[2][1] = 0;
  EXPECT_NEAR(mean_neighbour_cosine(make_layer(sheet, w, b)).item<double>(),
              mean_neighbour_cosine_reference(make_layer(sheet, w, b)).item<double>(), 1e-12);
}

// Coverage: mean cos² over the channel pairs of each position.
TEST(KernelSmoothnessTest, CoverageByHandAndItsGradient) {
  // One position, three channels: e₁, e₁ and e₂ (bias 0): cos² = 1 for (0, 1), 0 otherwise;
  // mean over the 6 ordered pairs = 2 / 6.
  const torch::Tensor w = torch::tensor({{{1.0, 0.0}, {2.0, 0.0}, {0.0, 3.0}}}, torch::kDouble);
  EXPECT_NEAR(channel_coverage(w, torch::zeros({1, 3}, torch::kDouble)).item<double>(), 1.0 / 3,
              1e-12);
  EXPECT_NEAR(channel_coverage(w.slice(1, 0, 1), torch::Tensor()).item<double>(), 0.0, 0.0);
  torch::manual_seed(6);
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [](const std::vector<torch::Tensor>& in) { return channel_coverage(in[0], in[1]); },
      {torch::randn({5, 4, 3}), torch::randn({5, 4})}));
}

// The training step's in-place path equals autograd through forward, coverage included.
TEST(KernelSmoothnessTest, InPlaceGradientsIncludeTheCoverageTerm) {
  torch::manual_seed(7);
  const Sheet sheet(SheetOptions(4, 3, 3).layout(SheetLayout::kHypercolumn));
  const torch::Tensor w0 = torch::randn({9, 4, 5}, torch::kDouble);
  const torch::Tensor b0 = torch::randn({9, 4}, torch::kDouble);
  KernelSmoothnessLoss loss(KernelSmoothnessLossOptions().coverage(0.7));
  const torch::Tensor w = w0.clone().requires_grad_(true);
  const torch::Tensor b = b0.clone().requires_grad_(true);
  const torch::Tensor value = loss->forward(make_layer(sheet, w, b));
  (value * 2.5).backward();
  torch::Tensor grad_w = torch::zeros_like(w0), grad_b = torch::zeros_like(b0);
  const double in_place = loss->add_gradients(make_layer(sheet, w0, b0), 2.5, grad_w, grad_b);
  EXPECT_NEAR(in_place, value.item<double>(), 1e-12);
  EXPECT_TRUE(torch::allclose(grad_w, w.grad(), 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(grad_b, b.grad(), 1e-10, 1e-12));
}

}  // namespace kernel_smoothness_test
}  // namespace nosharing
