#include "nosharing/topography/topoloss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <utility>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace topoloss_test {  // named, not anonymous: the tests compile in unity batches

TopographicLayer make_layer(Sheet sheet, torch::Tensor weight) {
  TopographicLayer layer{"lc1", std::move(sheet)};
  layer.weight = std::move(weight);
  return layer;
}

TEST(TopoLossTest, HandComputedOneRowSheet) {
  // One channel on a 1×4 grid, kernels G = (1,0), (1,0), (0,1), (0,1); f = 2.
  // Down-sampling 4 → 2 (align_corners = false) samples at 0.5 and 2.5: (1,0) and (0,1)
  // (the height, 1, stays 1). Up-sampling 2 → 4 samples at −0.25 (clamped to 0), 0.25, 0.75,
  // 1.25 (clamped to 1): Ĝ = (1,0), (¾,¼), (¼,¾), (0,1). Cosines 1, c, c, 1 with
  // c = ¾ / √(¾² + ¼²), so L = 1 − (2 + 2c)/4 = (1 − c)/2.
  const auto layer = make_layer(Sheet(SheetOptions(1, 1, 4)),
                                torch::tensor({1.0, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0})
                                    .view({4, 1, 2}));
  const double c = 0.75 / std::sqrt(0.75 * 0.75 + 0.25 * 0.25);
  EXPECT_NEAR(TopoLoss(TopoLossOptions().factor(2))->forward(layer).item<double>(), (1 - c) / 2,
              1e-6);
}

TEST(TopoLossTest, IdenticalKernelsGiveZero) {
  torch::manual_seed(6);
  const torch::Tensor weight = torch::randn({1, 9, 5}).expand({16, 9, 5}).contiguous();
  // Hypercolumn sheet 12×12 of nine different channel kernels: not smooth.
  const auto hyper =
      make_layer(Sheet(SheetOptions(9, 4, 4).layout(SheetLayout::kHypercolumn)), weight);
  EXPECT_GT(TopoLoss()->forward(hyper).item<double>(), 0.05);
  // Column layout: each channel's grid is constant, so it equals its blur.
  const auto column = make_layer(Sheet(SheetOptions(9, 4, 4)), weight);
  EXPECT_NEAR(TopoLoss()->forward(column).item<double>(), 0.0, 1e-6);
}

TEST(TopoLossTest, SheetsSmallerThanTheFactorAreHandled) {
  torch::manual_seed(7);
  // 2×2 grids with f = 3: the published code would down-sample to 0×0 and crash.
  const auto small = make_layer(Sheet(SheetOptions(3, 2, 2)), torch::randn({4, 3, 5}));
  const double value = TopoLoss()->forward(small).item<double>();
  EXPECT_TRUE(std::isfinite(value));
  EXPECT_GT(value, 0.0);
  EXPECT_LE(value, 2.0);
  // One position: nothing to blur.
  const auto single = make_layer(Sheet(SheetOptions(3, 1, 1)), torch::randn({1, 3, 5}));
  EXPECT_NEAR(TopoLoss()->forward(single).item<double>(), 0.0, 1e-6);
}

TEST(TopoLossTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(8);
  const Sheet sheet(SheetOptions(4, 3, 2).layout(SheetLayout::kHypercolumn));  // 6×4 sheet
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        return TopoLoss(TopoLossOptions().factor(2))->forward(make_layer(sheet, in[0]));
      },
      {torch::randn({6, 4, 3})}));
}

// The fused blurred cosine against the plain LibTorch form: every layout, sheets smaller than
// the factor, float32 and float64, values and gradients; then float64 finite differences.
TEST(TopoLossTest, FusedMatchesTheReference) {
  torch::manual_seed(21);
  const std::vector<Sheet> sheets = {
      Sheet(SheetOptions(3, 7, 8)),
      Sheet(SheetOptions(16, 3, 4).layout(SheetLayout::kHypercolumn)),
      Sheet(SheetOptions(2, 5, 3).layout(SheetLayout::kRetinotopic)),
      Sheet(SheetOptions(2, 1, 6)), Sheet(SheetOptions(1, 2, 2))};
  for (const Sheet& sheet : sheets) {
    const int64_t c = sheet.options().channels();
    const int64_t p = sheet.num_units() / c;
    // Depth 37: the fused loops' 16-lane blocks and their tail.
    for (const auto& [factor, depth] : {std::pair{3.0, 5}, {2.0, 5}, {3.0, 37}, {1.0, 37}}) {
      for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
        const torch::Tensor w0 = torch::randn({p, c, depth}, dtype);
        std::vector<torch::Tensor> grads;
        std::vector<double> values;
        for (const bool fused : {true, false}) {
          TopographicLayer layer{"lc1", sheet};
          layer.weight = w0.clone().requires_grad_(true);
          const torch::Tensor loss = fused ? TopoLoss(TopoLossOptions().factor(factor))->forward(layer)
                                           : topoloss_reference(layer, factor);
          (loss * 2).backward();
          values.push_back(loss.item<double>());
          grads.push_back(layer.weight.grad());
        }
        const double tolerance = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
        EXPECT_NEAR(values[0], values[1], tolerance) << sheet.num_units() << " units, f " << factor;
        EXPECT_TRUE(torch::allclose(grads[0], grads[1], tolerance, tolerance))
            << sheet.num_units() << " units, f " << factor;
      }
    }
  }
  const Sheet sheet(SheetOptions(4, 3, 3).layout(SheetLayout::kHypercolumn));
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        TopographicLayer layer{"lc1", sheet};
        layer.weight = in[0];
        return TopoLoss(TopoLossOptions().factor(2.0))->forward(layer);
      },
      {torch::randn({9, 4, 3})}));
}

}  // namespace topoloss_test
}  // namespace nosharing
