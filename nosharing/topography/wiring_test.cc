#include "nosharing/topography/wiring.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace wiring_test {  // named, not anonymous: the tests compile in unity batches

TopographicLayer make_layer(torch::Tensor weight, int64_t kernel, int64_t stride) {
  TopographicLayer layer{"lc1", Sheet(SheetOptions(weight.size(1), 1, weight.size(0)))};
  layer.weight = std::move(weight);
  layer.kernel = kernel;
  layer.stride = stride;
  return layer;
}

TEST(WiringTest, LengthFactorsByHand) {
  // 3×3, stride 1: centre 1, edges √2, corners √3.
  const double r2 = std::sqrt(2.0), r3 = std::sqrt(3.0);
  EXPECT_TRUE(torch::allclose(
      wiring_length_factors(1, 3, 1),
      torch::tensor({r3, r2, r3, r2, 1.0, r2, r3, r2, r3}, torch::kFloat64)));
  // 5×5, stride 2: offsets −1 … 1 in grid units; corner √(1 + 1 + 1).
  const torch::Tensor f = wiring_length_factors(2, 5, 2);
  EXPECT_EQ(f.size(0), 50);
  EXPECT_NEAR(f[0].item<double>(), r3, 1e-12);
  EXPECT_NEAR(f[25 + 12].item<double>(), 1.0, 1e-12);  // second input channel, centre
}

TEST(WiringTest, HandComputedTwoPositions) {
  // Position 0: all nine weights 1; position 1: only the centre, −2.
  // C = (1 + 4√2 + 4√3 + 2) / 2 (L = 2 positions).
  torch::Tensor weight = torch::zeros({2, 1, 9}, torch::kFloat64);
  weight[0].fill_(1.0);
  weight[1][0][4] = -2.0;
  const double expected = (3 + 4 * std::sqrt(2.0) + 4 * std::sqrt(3.0)) / 2;
  EXPECT_NEAR(WiringLoss()->forward(make_layer(weight, 3, 1)).item<double>(), expected, 1e-12);
}

TEST(WiringTest, ZeroWeightsAreTheMinimumAndShortConnectionsAreCheaper) {
  EXPECT_EQ(WiringLoss()->forward(make_layer(torch::zeros({4, 2, 9}), 3, 1)).item<double>(), 0.0);
  torch::Tensor centre = torch::zeros({1, 1, 9});
  centre[0][0][4] = 1.0;
  torch::Tensor corner = torch::zeros({1, 1, 9});
  corner[0][0][0] = 1.0;
  EXPECT_LT(WiringLoss()->forward(make_layer(centre, 3, 1)).item<double>(),
            WiringLoss()->forward(make_layer(corner, 3, 1)).item<double>());
}

TEST(WiringTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(12);
  // Magnitudes kept away from 0, where |w| has its kink.
  const torch::Tensor weight =
      (torch::rand({3, 2, 8}) + 0.1) * (torch::randint(0, 2, {3, 2, 8}) * 2 - 1);
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        return WiringLoss()->forward(make_layer(in[0], 2, 1));
      },
      {weight}));
}

TEST(WiringTest, FusedKernelMatchesTheReferenceValuesAndGradients) {
  torch::manual_seed(5);
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    torch::Tensor weight = torch::randn({7, 5, 18}, dtype);
    weight[0][0][3] = 0.0;  // sign(0) = 0 in both
    const torch::Tensor factors = wiring_length_factors(2, 3, 2);
    const torch::Tensor fused_leaf = weight.clone().requires_grad_(true);
    const torch::Tensor reference_leaf = weight.clone().requires_grad_(true);
    const torch::Tensor fused = wiring_cost(fused_leaf, factors);
    const torch::Tensor reference = wiring_cost_reference(reference_leaf, factors);
    const double tolerance = dtype == torch::kFloat64 ? 1e-12 : 1e-4;
    EXPECT_NEAR(fused.item<double>(), reference.item<double>(),
                tolerance * std::abs(reference.item<double>()));
    (fused * 1.5).backward();
    (reference * 1.5).backward();
    EXPECT_TRUE(torch::allclose(fused_leaf.grad(), reference_leaf.grad(), tolerance, tolerance));
  }
  EXPECT_THROW(wiring_cost(torch::rand({2, 3, 4}), torch::rand({5})), c10::Error);
}

// Attention maps (the Mapformer): C = mean_b (1/L) Σ_ij |A_bij| √(1 + d_ij²).
TEST(WiringTest, AttentionCostIsMinimalForSelfAttentionAndGrowsWithDistance) {
  const int64_t h = 3, w = 4, L = 12;
  const torch::Tensor lengths = attention_wiring_lengths(h, w);
  EXPECT_NEAR(lengths[0][0].item<double>(), 1.0, 1e-15);
  EXPECT_NEAR(lengths[0][5].item<double>(), std::sqrt(3.0), 1e-12);  // (0,0)–(1,1): d² = 2
  // Self-attention: every row pays 1, the minimum for row-stochastic maps.
  const torch::Tensor self = torch::eye(L, torch::kFloat64).expand({2, L, L});
  EXPECT_NEAR(attention_wiring_cost(self, lengths).item<double>(), 1.0, 1e-12);
  // Any other row-stochastic maps cost more.
  torch::manual_seed(1);
  for (int trial = 0; trial < 5; ++trial) {
    const torch::Tensor random = torch::softmax(torch::randn({2, L, L}, torch::kFloat64), -1);
    EXPECT_GT(attention_wiring_cost(random, lengths).item<double>(), 1.0);
  }
  // Column 0 of a 1×8 row reading the column at distance d (every other column reading
  // itself): C = (√(1 + d²) + 7) / 8, strictly increasing in d.
  const torch::Tensor row = attention_wiring_lengths(1, 8);
  double previous = 0;
  for (int64_t d = 0; d < 8; ++d) {
    torch::Tensor maps = torch::eye(8, torch::kFloat64).unsqueeze(0).clone();
    maps[0][0][0] = 0.0;
    maps[0][0][d] = 1.0;
    const double cost = attention_wiring_cost(maps, row).item<double>();
    EXPECT_NEAR(cost, (std::sqrt(1.0 + d * d) + 7) / 8, 1e-12);
    EXPECT_GT(cost, previous);
    previous = cost;
  }
  // The batch is averaged: a self-attending image and a far-reading one cost their mean.
  torch::Tensor far = torch::zeros({1, 8, 8}, torch::kFloat64);
  for (int64_t i = 0; i < 8; ++i) far[0][i][7 - i] = 1.0;
  const double far_cost = attention_wiring_cost(far, row).item<double>();
  const torch::Tensor both = torch::cat({torch::eye(8, torch::kFloat64).unsqueeze(0), far});
  EXPECT_NEAR(attention_wiring_cost(both, row).item<double>(), (1.0 + far_cost) / 2, 1e-12);
}

TEST(WiringTest, AttentionCostGradientMatchesFiniteDifferences) {
  torch::manual_seed(2);
  const torch::Tensor lengths = attention_wiring_lengths(2, 2);
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        return attention_wiring_cost(torch::softmax(in[0], -1), lengths);
      },
      {torch::randn({2, 4, 4})}));
  EXPECT_THROW(attention_wiring_cost(torch::rand({1, 4, 4}), attention_wiring_lengths(1, 3)),
               c10::Error);
}

}  // namespace wiring_test
}  // namespace nosharing
