#include "nosharing/topography/infonce.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <map>
#include <vector>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace infonce_test {  // named, not anonymous: the tests compile in unity batches

torch::Tensor all(int64_t n) { return torch::arange(n); }

TEST(InfoNceTest, NeighbourWeightsMaskTheDiagonalBeforeTheSoftmax) {
  const torch::Tensor w = infonce_neighbour_weights(1, 3, 2.0);
  // Row 0: neighbours at distance 1 and 2 → ∝ e^{−1/8}, e^{−4/8}.
  const double a = std::exp(-1.0 / 8), b = std::exp(-4.0 / 8);
  EXPECT_NEAR(w[0][0].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(w[0][1].item<double>(), a / (a + b), 1e-12);
  EXPECT_NEAR(w[0][2].item<double>(), b / (a + b), 1e-12);
  EXPECT_NEAR(w[1][0].item<double>(), 0.5, 1e-12);
  EXPECT_TRUE(torch::allclose(w.sum(1), torch::ones({3}, torch::kFloat64)));
}

TEST(InfoNceTest, HandComputedTwoImagesOfTwoColumns) {
  // 1×2 grid: each column's target is its only neighbour. τ = 1, all anchors and negatives.
  // Image 0: (3, 0), (0, 2) → ẑ (1,0), (0,1). Image 1: (1, 0), (5, 0) → ẑ (1,0), (1,0).
  //   anchor 0/0: s⁺ = 0, negatives (1,0),(1,0): 1, 1 → log(1 + 2e)
  //   anchor 0/1: s⁺ = 0, negatives: 0, 0             → log 3
  //   anchors 1/*: s⁺ = 1, negatives (1,0),(0,1): 1, 0 → log((2e + 1)/e), twice
  const torch::Tensor columns =
      torch::tensor({3.0, 0.0, 0.0, 2.0, 1.0, 0.0, 5.0, 0.0}, torch::kFloat64).view({2, 2, 2});
  const double e = std::exp(1.0);
  const double expected =
      (std::log(1 + 2 * e) + std::log(3.0) + 2 * std::log((2 * e + 1) / e)) / 4;
  const torch::Tensor w = infonce_neighbour_weights(1, 2, 2.0);
  EXPECT_NEAR(infonce_loss(columns, w, all(4), all(4), 1.0).item<double>(), expected, 1e-9);
}

TEST(InfoNceTest, IdenticalColumnsReachTheFloor) {
  // All columns of image 0 along +x, of image 1 along −x (positive scales differ): s⁺ = 1/τ,
  // every unmasked negative −1/τ. With 8 negatives, 4 of another image per anchor:
  // L = log(1 + 4 e^{−2/τ}), the minimum for 4 negatives.
  torch::manual_seed(9);
  const torch::Tensor direction = torch::tensor({1.0, 0.0}, torch::kFloat64);
  const torch::Tensor scales = torch::rand({2, 4, 1}, torch::kFloat64) + 0.5;
  const torch::Tensor sign = torch::tensor({1.0, -1.0}, torch::kFloat64).view({2, 1, 1});
  const torch::Tensor columns = direction.view({1, 1, 2}) * scales * sign;
  const torch::Tensor w = infonce_neighbour_weights(2, 2, 2.0);
  const double tau = 0.1;
  const double floor = std::log(1 + 4 * std::exp(-2 / tau));
  EXPECT_NEAR(infonce_loss(columns, w, all(8), all(8), tau).item<double>(), floor, 1e-12);
  EXPECT_GT(infonce_loss(torch::randn({2, 4, 2}, torch::kFloat64), w, all(8), all(8), tau)
                .item<double>(),
            floor + 0.1);
}

TEST(InfoNceTest, ModuleSubsamplesAnchorsAndNegatives) {
  torch::manual_seed(10);
  const Sheet sheet(SheetOptions(3, 2, 2));
  TopographicLayer layer{"lc1", sheet};
  layer.responses = torch::randn({4, 3, 2, 2}, torch::kFloat64);
  const torch::Tensor columns = layer.responses.flatten(2).transpose(1, 2);
  const torch::Tensor w = infonce_neighbour_weights(2, 2, 2.0);
  // Enough anchors and negatives: every column, so the module equals the full loss.
  InfoNceLoss full(InfoNceLossOptions().anchors(100).negatives(100));
  EXPECT_NEAR(full->forward(layer).item<double>(),
              infonce_loss(columns, w, all(16), all(16), 0.1).item<double>(), 1e-12);
  // Few: a different, finite value from a sample.
  InfoNceLoss sampled(InfoNceLossOptions().anchors(3).negatives(5));
  const double value = sampled->forward(layer).item<double>();
  EXPECT_TRUE(std::isfinite(value));
  EXPECT_GE(value, 0.0);
}

// The gradient reaches a [B, C, H, W] layer in its own (contiguous) layout: a channels-last
// gradient would make the network's ReLU and BatchNorm backward many times slower.
TEST(InfoNceTest, GradientKeepsTheLayersLayout) {
  torch::manual_seed(15);
  const Sheet sheet(SheetOptions(4, 3, 3));
  TopographicLayer layer{"lc1", sheet};
  layer.responses = torch::randn({8, 4, 3, 3}).requires_grad_(true);
  InfoNceLoss loss(InfoNceLossOptions().anchors(9).negatives(20));
  // The network's own gradient arrives too; the sum must stay in its layout.
  (loss->forward(layer) + layer.responses.sum()).backward();
  ASSERT_TRUE(layer.responses.grad().defined());
  EXPECT_TRUE(layer.responses.grad().is_contiguous());
  EXPECT_GT(layer.responses.grad().abs().sum().item<double>(), 0.0);
  // And the Mapformer's contiguous [B, L, D] columns get a contiguous gradient.
  const torch::Tensor columns = torch::randn({8, 9, 4}).requires_grad_(true);
  sampled_infonce_loss(columns, infonce_neighbour_weights(3, 3, 2.0),
                       InfoNceLossOptions().anchors(9).negatives(20))
      .backward();
  EXPECT_TRUE(columns.grad().is_contiguous());
}

TEST(InfoNceTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(11);
  const torch::Tensor w = infonce_neighbour_weights(1, 3, 2.0);
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) {
        return infonce_loss(in[0], w, torch::tensor({0, 2, 4}), torch::tensor({1, 3, 5}), 0.5);
      },
      {torch::randn({2, 3, 3})}));
}

// L by loops over anchors and negatives, straight from the formula (DESIGN §4), on a 2×2
// grid of 3 images with fixed anchors and negatives (some negatives of the anchor's own
// image, which must be masked).
TEST(InfoNceTest, MatchesASlowDirectComputationWithFixedNegatives) {
  torch::manual_seed(12);
  const int64_t B = 3, H = 2, W = 2, P = 4, C = 3;
  const double sigma = 1.5, tau = 0.5;
  const torch::Tensor columns = torch::randn({B, P, C}, torch::kFloat64);
  const std::vector<int64_t> anchors = {0, 3, 5, 10};
  const std::vector<int64_t> negatives = {1, 4, 6, 9, 11};
  auto unit = [&](int64_t flat) {
    const torch::Tensor z = columns[flat / P][flat % P];
    return z / z.norm();
  };
  double total = 0;
  for (int64_t a : anchors) {
    const int64_t b = a / P, i = a % P;
    // W_ij ∝ exp(−d²/2σ²) over j ≠ i.
    torch::Tensor target = torch::zeros({C}, torch::kFloat64);
    double z_sum = 0;
    for (int64_t j = 0; j < P; ++j) {
      if (j == i) continue;
      const double dy = static_cast<double>(i / W - j / W), dx = static_cast<double>(i % W - j % W);
      const double weight = std::exp(-(dy * dy + dx * dx) / (2 * sigma * sigma));
      z_sum += weight;
      target += weight * unit(b * P + j);
    }
    target = target / z_sum;
    target = target / target.norm();
    const torch::Tensor anchor = unit(a);
    const double positive = std::exp((anchor * target).sum().item<double>() / tau);
    double denominator = positive;
    for (int64_t n : negatives) {
      if (n / P == b) continue;
      denominator += std::exp((anchor * unit(n)).sum().item<double>() / tau);
    }
    total += -std::log(positive / denominator);
  }
  const double expected = total / static_cast<double>(anchors.size());
  EXPECT_NEAR(infonce_loss(columns, infonce_neighbour_weights(H, W, sigma),
                           torch::tensor(anchors), torch::tensor(negatives), tau)
                  .item<double>(),
              expected, 1e-12);
  EXPECT_NEAR(infonce_loss_reference(columns, infonce_neighbour_weights(H, W, sigma),
                                     torch::tensor(anchors), torch::tensor(negatives), tau)
                  .item<double>(),
              expected, 1e-12);
}

// The fused function (anchors-only mixing, hand-written backward) against the reference's
// full [P, P] mixing: value and gradient, with anchors in no order and unevenly spread over
// the images (one image has none, one has most), on a 3×4 grid.
TEST(InfoNceTest, AnchorMixingMatchesTheFullMixingReference) {
  torch::manual_seed(14);
  const int64_t B = 4, P = 12, C = 5;
  const torch::Tensor w = infonce_neighbour_weights(3, 4, 1.5);
  const torch::Tensor anchors = torch::tensor({37, 2, 40, 11, 36, 47, 5, 44, 39, 0});  // none in image 1
  const torch::Tensor negatives = torch::randperm(B * P).narrow(0, 0, 30);
  const torch::Tensor x = torch::randn({B, P, C}, torch::kFloat64);
  const torch::Tensor fast_in = x.clone().requires_grad_(true);
  const torch::Tensor slow_in = x.clone().requires_grad_(true);
  const torch::Tensor fast = infonce_loss(fast_in, w, anchors, negatives, 0.2);
  const torch::Tensor slow = infonce_loss_reference(slow_in, w, anchors, negatives, 0.2);
  EXPECT_NEAR(fast.item<double>(), slow.item<double>(), 1e-12);
  fast.backward();
  slow.backward();
  EXPECT_TRUE(torch::allclose(fast_in.grad(), slow_in.grad(), 1e-10, 1e-12));
  // A layer's NCHW response seen as [B, P, C] (channels strided): the same gradient, written
  // in that layout.
  const torch::Tensor nchw = x.permute({0, 2, 1}).contiguous().requires_grad_(true);
  infonce_loss(nchw.permute({0, 2, 1}), w, anchors, negatives, 0.2).backward();
  EXPECT_TRUE(nchw.grad().is_contiguous());
  EXPECT_TRUE(torch::allclose(nchw.grad().permute({0, 2, 1}), slow_in.grad(), 1e-10, 1e-12));
  // Float32 columns (training's dtype) agree to float32 precision.
  EXPECT_NEAR(infonce_loss(x.to(torch::kFloat32), w, anchors, negatives, 0.2).item<double>(),
              slow.item<double>(), 1e-5);
}

// The sampled form (used on the Mapformer's block outputs) is the full loss when the sample
// sizes cover every column, and 0 for a single position.
TEST(InfoNceTest, SampledLossCoversEveryColumnWhenAllowed) {
  torch::manual_seed(13);
  const torch::Tensor columns = torch::randn({3, 6, 4}, torch::kFloat64);
  const torch::Tensor w = infonce_neighbour_weights(2, 3, 2.0);
  EXPECT_NEAR(sampled_infonce_loss(columns, w, InfoNceLossOptions().anchors(18).negatives(50))
                  .item<double>(),
              infonce_loss(columns, w, all(18), all(18), 0.1).item<double>(), 1e-12);
  EXPECT_EQ(sampled_infonce_loss(torch::randn({3, 1, 4}), infonce_neighbour_weights(1, 1, 2.0),
                                 InfoNceLossOptions())
                .item<float>(),
            0.0f);
}

TEST(InfoNceTest, SampleDistinctDrawsUniformSubsets) {
  torch::manual_seed(17);
  EXPECT_TRUE(torch::equal(sample_distinct(5, 9), torch::arange(5)));
  EXPECT_EQ(sample_distinct(5, 0).numel(), 0);
  const torch::Tensor big = sample_distinct(32768, 256);
  EXPECT_EQ(std::get<0>(at::_unique(big)).numel(), 256);
  EXPECT_GE(big.min().item<int64_t>(), 0);
  EXPECT_LT(big.max().item<int64_t>(), 32768);
  // 3 of 10, 20,000 times: each index with frequency 0.3 (σ ≈ 0.0032), each of the
  // C(10, 3) = 120 subsets with frequency 1/120 (σ ≈ 0.00064).
  const int draws = 20000;
  std::vector<int> hits(10, 0);
  std::map<std::vector<int64_t>, int> subsets;
  for (int d = 0; d < draws; ++d) {
    const torch::Tensor s = std::get<0>(torch::sort(sample_distinct(10, 3)));
    ASSERT_EQ(std::get<0>(at::_unique(s)).numel(), 3);
    std::vector<int64_t> key(s.data_ptr<int64_t>(), s.data_ptr<int64_t>() + 3);
    for (int64_t i : key) ++hits[static_cast<size_t>(i)];
    ++subsets[key];
  }
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(hits[static_cast<size_t>(i)] / double(draws), 0.3, 0.016) << i;
  EXPECT_EQ(subsets.size(), 120u);
  for (const auto& [subset, n] : subsets) EXPECT_NEAR(n / double(draws), 1.0 / 120, 0.0035);
}

}  // namespace infonce_test
}  // namespace nosharing
