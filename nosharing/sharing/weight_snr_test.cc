#include "nosharing/sharing/weight_snr.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "nosharing/layers/locally_connected.h"
#include "nosharing/models/lcnet.h"

namespace nosharing {
namespace weight_snr_test {  // named, not anonymous: the tests compile in unity batches

TEST(WeightSnrTest, TiedLayerIsWrittenAsTheCap) {
  torch::manual_seed(1);
  LocallyConnected2d layer(LocallyConnected2dOptions(3, 8, 3, 10, 10).padding(1));
  layer->tie_to_conv(torch::randn({8, 3, 3, 3}), torch::randn({8}));
  const WeightSnr snr = weight_snr(layer->weight);
  EXPECT_EQ(snr.squared, kMaxWeightSnr);
  EXPECT_EQ(snr.abs, kMaxWeightSnr);
  // Zero weights at every position are shared too (0/0 is not NaN).
  const WeightSnr zero = weight_snr(torch::zeros({5, 4}));
  EXPECT_EQ(zero.squared, kMaxWeightSnr);
  EXPECT_EQ(zero.abs, kMaxWeightSnr);
  EXPECT_EQ(weight_snr(torch::randn({1, 7})).squared, kMaxWeightSnr);  // one position
}

TEST(WeightSnrTest, FreshLayerIsNearZeroAtOneOverPScale) {
  torch::manual_seed(2);
  // P = 12 × 12 = 144 positions; independent U(−a, a) weights: E[mean²]/var = 1/P.
  LocallyConnected2d layer(LocallyConnected2dOptions(4, 16, 3, 12, 12).padding(1));
  const WeightSnr snr = weight_snr(layer->weight);
  const double p = static_cast<double>(layer->positions());
  EXPECT_NEAR(snr.squared, 1.0 / p, 0.25 / p);
  // E|mean|/std = √(2/π)/√P for a (near-)Gaussian mean.
  EXPECT_NEAR(snr.abs, std::sqrt(2.0 / M_PI / p), 0.1 / std::sqrt(p));
  EXPECT_LT(snr.squared, 0.01);
}

TEST(WeightSnrTest, MatchesTheFormulaOnAHandExample) {
  // Two weight indices over three positions: j = 0 takes 1, 2, 3 (mean 2, var 1);
  // j = 1 takes −1, 1, 3 (mean 1, var 4).
  torch::Tensor w = torch::tensor({1.0, -1.0, 2.0, 1.0, 3.0, 3.0}).view({3, 2});
  const WeightSnr snr = weight_snr(w);
  EXPECT_DOUBLE_EQ(snr.squared, (4.0 / 1.0 + 1.0 / 4.0) / 2);
  EXPECT_DOUBLE_EQ(snr.abs, (2.0 / 1.0 + 1.0 / 2.0) / 2);
}

TEST(WeightSnrTest, FusedKernelMatchesTheReference) {
  torch::manual_seed(4);
  // Column counts below, at and across the kernel's 512-column tasks; float32 and float64;
  // independent weights (SNR ≈ 1/P), a shared kernel plus small noise (SNR ≈ 1e6), and a
  // weight whose positions agree except in one column.
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    for (const std::vector<int64_t>& shape :
         {std::vector<int64_t>{2, 3}, {37, 3, 250}, {16, 512}, {9, 1025}}) {
      const torch::Tensor fresh = torch::randn(shape, dtype);
      const torch::Tensor kernel = torch::randn(shape, dtype).select(0, 0).unsqueeze(0);
      const torch::Tensor near_shared = kernel + 1e-3 * torch::randn(shape, dtype);
      torch::Tensor one_column = kernel.expand(shape).clone();
      one_column.view({shape[0], -1}).select(1, 0).normal_();
      for (const torch::Tensor& w : {fresh, near_shared, one_column}) {
        const WeightSnr fast = weight_snr(w);
        const WeightSnr reference = weight_snr_reference(w);
        EXPECT_NEAR(fast.squared, reference.squared, 1e-9 * reference.squared) << w.sizes();
        EXPECT_NEAR(fast.abs, reference.abs, 1e-9 * reference.abs) << w.sizes();
      }
      // Positions that agree everywhere: variance exactly 0 in both.
      EXPECT_EQ(weight_snr(kernel.expand(shape).clone()).squared, kMaxWeightSnr);
    }
  }
  // A non-contiguous view measures as its contiguous copy.
  const torch::Tensor w = torch::randn({6, 40}).t();
  EXPECT_DOUBLE_EQ(weight_snr(w).squared, weight_snr(w.contiguous()).squared);
  EXPECT_NEAR(weight_snr(w).squared, weight_snr_reference(w).squared,
              1e-9 * weight_snr_reference(w).squared);
}

TEST(WeightSnrTest, PerLayerOfAModelTwinIsTheCap) {
  torch::manual_seed(3);
  LcNet twin(LcNetOptions(InputShape{1, 12, 12}, 3, {4, 6}).sharing(LcNetSharing::kConv));
  LcNet unshared(LcNetOptions(InputShape{1, 12, 12}, 3, {4, 6}));
  const auto twin_snrs = layer_weight_snrs(*twin);
  const auto unshared_snrs = layer_weight_snrs(*unshared);
  ASSERT_EQ(twin_snrs.size(), 2u);
  ASSERT_EQ(unshared_snrs.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(twin_snrs[i].first, "lc" + std::to_string(i + 1));
    EXPECT_EQ(unshared_snrs[i].first, twin_snrs[i].first);
    EXPECT_EQ(twin_snrs[i].second.squared, kMaxWeightSnr);
    EXPECT_EQ(twin_snrs[i].second.abs, kMaxWeightSnr);
    EXPECT_LT(unshared_snrs[i].second.squared, 0.1);
  }
}

}  // namespace weight_snr_test
}  // namespace nosharing
