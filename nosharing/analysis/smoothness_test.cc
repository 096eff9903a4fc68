#include "nosharing/analysis/smoothness.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/analysis/random_orientation_map.h"
#include "nosharing/core/sheet.h"

namespace nosharing {
namespace smoothness_test {

torch::Tensor grid_coordinates(int64_t side) { return position_coordinates(side, side); }

TEST(SmoothnessTest, HandExampleOnALine) {
  // Units at x = 0, 1, 2, 3 (and a second one at x = 0, same point: left out).
  const torch::Tensor coords =
      torch::tensor({{0.0, 0.0}, {0.0, 1.0}, {0.0, 2.0}, {0.0, 3.0}, {0.0, 0.0}}, torch::kDouble);
  const torch::Tensor values = torch::tensor({0.0, 1.0, 2.0, 3.0, 100.0}, torch::kDouble);
  SmoothnessOptions options;
  options.bins = 3;  // (0, 1], (1, 2], (2, 3]
  const SmoothnessCurve c = smoothness_curve(values, coords, MapDifference::kAbsolute, options,
                                             {3.0, "fixed"});
  ASSERT_EQ(c.difference.size(), 3u);
  // Every unit is an anchor, so each pair is counted from both ends.
  // d = 1: pairs (0,1),(1,2),(2,3),(4,1) → |Δ| 1,1,1,99; d = 2: 2,2,98; d = 3: 3, 97.
  EXPECT_EQ(c.pairs[0], 8);
  EXPECT_NEAR(c.difference[0], 102.0 / 4, 1e-12);
  EXPECT_NEAR(c.difference[1], 102.0 / 3, 1e-12);
  EXPECT_NEAR(c.difference[2], 100.0 / 2, 1e-12);
  EXPECT_NEAR(c.distance[0], 0.5, 1e-12);
  // The chance curve: the same pairs with the values shuffled over the units.
  for (int b = 0; b < 3; ++b) {
    EXPECT_NEAR(c.normalised[b], c.difference[b] / c.chance[b], 1e-12);
  }
  EXPECT_EQ(c.range_rule, "fixed");
}

TEST(SmoothnessTest, RangeFollowsTheColumnSpacingOrFallsBackToUnitSpacings) {
  const torch::Tensor coords = grid_coordinates(40);
  const SmoothnessRange by_period = smoothness_range(12.0, coords);
  EXPECT_NEAR(by_period.max_distance, 4.0 / 3.0 * 12.0 * std::sqrt(0.5), 1e-12);
  EXPECT_EQ(by_period.rule, "period");
  const SmoothnessRange fixed = smoothness_range(NAN, coords);
  EXPECT_NEAR(fixed.max_distance, 9.0, 1e-12);  // 9 bins of one grid spacing
  EXPECT_EQ(fixed.rule, "fixed");
  // Capped at half the shorter side.
  EXPECT_NEAR(smoothness_range(NAN, grid_coordinates(10)).max_distance, 4.5, 1e-12);
  EXPECT_NEAR(unit_spacing(coords * 2.5), 2.5, 1e-12);
}

TEST(SmoothnessTest, GaussianRandomFieldMapIsSmoothAndItsShuffleIsNot) {
  // The reading: Λ = 12 on 128² cells scores ≈ 0.8 with TDANN's binning.
  const int64_t side = 128;
  const torch::Tensor coords = grid_coordinates(side);
  for (uint64_t seed : {0, 1}) {
    const OrientationMap map = random_orientation_map(side, side, {12.0, 0.05, seed});
    const torch::Tensor theta = map.preferred.reshape(-1);
    const SmoothnessCurve smooth = smoothness_curve(theta, coords, MapDifference::kOrientation, {},
                                                    smoothness_range(12.0, coords));
    EXPECT_GT(smooth.smoothness, 0.6) << "seed " << seed;
    // Chance for orientations is ≈ 45° at every distance.
    for (double chance : smooth.chance) EXPECT_NEAR(chance * 180 / M_PI, 45.0, 3.0);
    torch::manual_seed(seed);
    const torch::Tensor shuffled = theta.index_select(0, torch::randperm(side * side));
    // With or without a (mistaken) Λ, a shuffled map stays below 0.05.
    for (double period : {12.0, static_cast<double>(NAN)}) {
      const SmoothnessCurve flat = smoothness_curve(shuffled, coords, MapDifference::kOrientation,
                                                    {}, smoothness_range(period, coords));
      EXPECT_LT(std::abs(flat.smoothness), 0.05) << "seed " << seed << " Λ " << period;
    }
  }
}

TEST(SmoothnessTest, PairsStayWithinAGroupWhenAsked) {
  // Two channels at every position of a 12×12 grid (a column sheet): grouped pairs compare
  // a channel with itself at other positions only.
  const torch::Tensor positions = grid_coordinates(12);
  const torch::Tensor coords = torch::cat({positions, positions});
  const torch::Tensor group = torch::arange(288).div(144, "floor");
  const SheetPairs pairs = sample_sheet_pairs(coords, {5.0, "fixed"}, {}, group);
  ASSERT_GT(pairs.first.numel(), 0);
  EXPECT_TRUE(torch::equal(group.index_select(0, pairs.first), group.index_select(0, pairs.second)));
  // Channel 0 smooth along x, channel 1 the same map shifted by a constant: per-channel
  // smoothness sees both as smooth.
  const torch::Tensor x = coords.select(1, 1);
  const torch::Tensor values = x + 100.0 * group.to(torch::kDouble);
  EXPECT_GT(smoothness_curve(values, pairs, MapDifference::kAbsolute).smoothness, 0.5);
}

TEST(SmoothnessTest, SkipsNonFiniteValuesAndConstantMapsAreUndefined) {
  const torch::Tensor coords = grid_coordinates(30);
  torch::Tensor values = coords.select(1, 0).clone();
  values[5] = NAN;
  const SmoothnessCurve c = smoothness_curve(values, coords, MapDifference::kAbsolute);
  EXPECT_GT(c.smoothness, 0.8);
  EXPECT_TRUE(std::isnan(
      smoothness_curve(torch::zeros({900}, torch::kDouble), coords, MapDifference::kAbsolute)
          .smoothness));
}

}  // namespace smoothness_test
}  // namespace nosharing
