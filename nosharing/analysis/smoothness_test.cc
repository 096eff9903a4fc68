#include "nosharing/analysis/smoothness.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/analysis/sheet_maps.h"
#include "nosharing/core/sheet.h"

namespace nosharing {
namespace smoothness_test {  // named, not anonymous: the tests compile in unity batches

TEST(SmoothnessTest, HandExampleOnALine) {
  // Units at x = 0, 1, 2, 3 (and a second one at x = 0, same point: left out).
  const torch::Tensor coords =
      torch::tensor({{0.0, 0.0}, {0.0, 1.0}, {0.0, 2.0}, {0.0, 3.0}, {0.0, 0.0}}, torch::kDouble);
  const torch::Tensor values = torch::tensor({0.0, 1.0, 2.0, 3.0, 100.0}, torch::kDouble);
  SmoothnessOptions options;
  options.bins = 3;  // (0, 1], (1, 2], (2, 3]
  const SmoothnessCurve c = smoothness_curve(values, coords, MapDifference::kAbsolute, options);
  ASSERT_EQ(c.difference.size(), 3u);
  // d = 1: pairs (0,1),(1,2),(2,3),(4,1) → |Δ| 1,1,1,99; d = 2: 2,2,98; d = 3: 3, 97.
  EXPECT_EQ(c.pairs[0], 4);
  EXPECT_NEAR(c.difference[0], 102.0 / 4, 1e-12);
  EXPECT_NEAR(c.difference[1], 102.0 / 3, 1e-12);
  EXPECT_NEAR(c.difference[2], 100.0 / 2, 1e-12);
  EXPECT_NEAR(c.smoothness, (50.0 - 25.5) / 50.0, 1e-12);
  EXPECT_NEAR(c.distance[0], 0.5, 1e-12);
}

TEST(SmoothnessTest, SmoothGradientVersusShuffled) {
  const int64_t side = 20;
  const torch::Tensor coords = Sheet(SheetOptions(1, side, side)).coordinates();
  const torch::Tensor smooth = coords.select(1, 1) * (M_PI / side);  // orientation along x
  const SmoothnessCurve a = smoothness_curve(smooth, coords, MapDifference::kOrientation);
  EXPECT_GT(a.smoothness, 0.8);
  torch::manual_seed(0);
  const torch::Tensor shuffled = smooth.index_select(0, torch::randperm(side * side));
  const SmoothnessCurve b = smoothness_curve(shuffled, coords, MapDifference::kOrientation);
  EXPECT_LT(std::abs(b.smoothness), 0.1);
}

TEST(SmoothnessTest, SubsamplesLargeSheetsAndSkipsNonFinite) {
  const torch::Tensor coords = Sheet(SheetOptions(4, 30, 30)).coordinates();  // 3600 units
  torch::Tensor values = coords.select(1, 0).clone();
  values[5] = NAN;
  SmoothnessOptions options;
  options.max_units = 500;
  const SmoothnessCurve c = smoothness_curve(values, coords, MapDifference::kAbsolute, options);
  int64_t pairs = 0;
  for (int64_t n : c.pairs) pairs += n;
  EXPECT_LE(pairs, 500 * 499 / 2);
  EXPECT_GT(c.smoothness, 0.8);
  // Constant map: no difference anywhere, smoothness undefined.
  EXPECT_TRUE(std::isnan(smoothness_curve(torch::zeros({3600}, torch::kDouble), coords,
                                          MapDifference::kAbsolute, options)
                             .smoothness));
}

}  // namespace smoothness_test
}  // namespace nosharing
