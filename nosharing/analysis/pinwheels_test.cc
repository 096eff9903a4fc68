#include "nosharing/analysis/pinwheels.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/analysis/random_orientation_map.h"

namespace nosharing {
namespace pinwheels_test {

TEST(PinwheelsTest, PlaneWaveHasNoPinwheelAndItsPeriod) {
  // θ = π x / Λ: the doubled angle is a plane wave of period Λ = 16 on a 64-wide sheet.
  const torch::Tensor x = torch::arange(64, torch::kDouble).view({1, -1}).expand({48, 64});
  const PinwheelResult r = find_pinwheels(x * (M_PI / 16.0));
  EXPECT_EQ(r.count(), 0);
  EXPECT_NEAR(r.period, 16.0, 1e-9);
  EXPECT_EQ(r.density, 0.0);  // Λ exists: the density is a number, zero
}

TEST(PinwheelsTest, SingleAndOppositePinwheelsWithSigns) {
  const int64_t h = 20, w = 30;
  torch::Tensor theta = torch::zeros({h, w}, torch::kDouble);
  auto a = theta.accessor<double, 2>();
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      a[y][x] = 0.5 * std::atan2(y - 9.5, x - 7.5) - 0.5 * std::atan2(y - 9.5, x - 21.5);
    }
  }
  const PinwheelResult r = find_pinwheels(theta, {0.0});
  ASSERT_EQ(r.count(), 2);
  for (const Pinwheel& p : r.pinwheels) {
    EXPECT_NEAR(p.y, 9.5, 1e-9);
    EXPECT_NEAR(p.x, p.sign > 0 ? 7.5 : 21.5, 1e-9);
  }
  EXPECT_EQ(r.winding.sizes(), (std::vector<int64_t>{h - 1, w - 1}));
  EXPECT_EQ(r.winding.abs().sum().item<int64_t>(), 2);  // one plaquette around each
}

TEST(PinwheelsTest, DensityIsNullOnSheetsSpanningFewPeriods) {
  const torch::Tensor x = torch::arange(12, torch::kDouble).view({1, -1}).expand({12, 12});
  const PinwheelResult r = find_pinwheels(x * (M_PI / 6.0), {1.0, 3.0});  // Λ = 6: 2 periods
  EXPECT_NEAR(r.period, 6.0, 1e-9);
  EXPECT_TRUE(std::isnan(r.density));
  EXPECT_TRUE(std::isnan(orientation_map_period(torch::full({8, 8}, 0.4, torch::kDouble))));
}

TEST(PinwheelsTest, SmoothingAveragesDoubledAnglesAndKeepsHoles) {
  // 0° next to 179°: the doubled-angle mean is near 0°/180°, not 90°.
  torch::Tensor theta = torch::zeros({2, 3}, torch::kDouble);
  theta[0][1] = 179.0 * M_PI / 180;
  theta[1][2] = NAN;
  const torch::Tensor s = smooth_orientation_map(theta, 1.0) * (180 / M_PI);
  for (int i = 0; i < 2; ++i) {
    const double v = s[0][i].item<double>();
    EXPECT_TRUE(v < 1.0 || v > 179.0) << v;
  }
  EXPECT_TRUE(std::isnan(s[1][2].item<double>()));
}

// Planted truth (Wolf & Geisel 1998): an isotropic GRF map has π pinwheels per Λ².
TEST(PinwheelsTest, GaussianRandomFieldMapsHavePiPinwheelsPerColumnArea) {
  for (int64_t side : {128, 256}) {
    for (double period : {8.0, 12.0, 16.0}) {
      double sum = 0;
      const int seeds = 5;
      for (int seed = 0; seed < seeds; ++seed) {
        const OrientationMap map =
            random_orientation_map(side, side, {period, 0.05, static_cast<uint64_t>(seed)});
        const PinwheelResult r = find_pinwheels(map.preferred);
        SCOPED_TRACE(testing::Message() << side << "² Λ = " << period << " seed " << seed);
        EXPECT_NEAR(r.period / period, 1.0, 0.05);
        EXPECT_NEAR(r.density / M_PI, 1.0, 0.20);
        int64_t positive = 0, negative = 0;
        for (const Pinwheel& p : r.pinwheels) (p.sign > 0 ? positive : negative) += 1;
        // Equal numbers of +½ and −½ within counting noise (they are created in pairs).
        EXPECT_LE(std::abs(positive - negative), 3 * std::sqrt(double(positive + negative)));
        sum += r.density;
      }
      EXPECT_NEAR(sum / seeds / M_PI, 1.0, 0.10) << side << "² Λ = " << period;
    }
  }
}

TEST(PinwheelsTest, ShuffledMapHasNoColumnSpacingAndNoDensity) {
  const OrientationMap map = random_orientation_map(128, 128, {12.0, 0.05, 3});
  torch::manual_seed(3);
  const torch::Tensor shuffled =
      map.preferred.reshape(-1).index_select(0, torch::randperm(128 * 128)).view({128, 128});
  const PinwheelResult r = find_pinwheels(shuffled);
  EXPECT_TRUE(std::isnan(r.period)) << r.period << " peak ratio " << r.peak_ratio;
  EXPECT_TRUE(std::isnan(r.density));
}

TEST(PinwheelsTest, BorderRuleCountsOnlyPinwheelsHalfAColumnInside) {
  // Border rule: pinwheels within ½ Λ of the edge are found but not counted, and the
  // density divides by the inner area. A map cut out of a larger GRF map has about the
  // density of the same region measured inside the larger map.
  const double period = 12;
  const OrientationMap map = random_orientation_map(192, 192, {period, 0.05, 7});
  const PinwheelResult whole = find_pinwheels(map.preferred);
  EXPECT_NEAR(whole.margin, period / 2, period * 0.05);
  int64_t inside = 0;
  for (const Pinwheel& p : whole.pinwheels) {
    const bool in_margin = std::min({p.y, p.x, 191 - p.y, 191 - p.x}) < whole.margin;
    EXPECT_EQ(p.counted, !in_margin) << p.y << ", " << p.x;
    inside += p.counted;
  }
  EXPECT_EQ(inside, whole.counted);
  const double inner = 191 - 2 * whole.margin;
  EXPECT_NEAR(whole.density, inside * whole.period * whole.period / (inner * inner), 1e-9);
  const PinwheelResult crop =
      find_pinwheels(map.preferred.slice(0, 32, 160).slice(1, 32, 160));
  EXPECT_NEAR(crop.density / M_PI, 1.0, 0.25);
}

// Weakly tuned units have noisy preferences: counted as equals they add pinwheels; weighted
// by their selectivity (the polar map) they do not.
TEST(PinwheelsTest, SelectivityWeightingIgnoresNoisyUnselectiveUnits) {
  const OrientationMap map = random_orientation_map(128, 128, {12.0, 0.05, 5});
  torch::manual_seed(5);
  const torch::Tensor noisy = torch::rand({128, 128}) < 0.6;
  const torch::Tensor theta =
      torch::where(noisy, torch::rand({128, 128}, torch::kDouble) * M_PI, map.preferred);
  const torch::Tensor selectivity =
      torch::where(noisy, torch::full({128, 128}, 0.02, torch::kDouble), torch::ones({128, 128}, torch::kDouble));
  const PinwheelResult plain = find_pinwheels(theta);
  const PinwheelResult weighted = find_pinwheels(theta, {}, selectivity);
  EXPECT_NEAR(weighted.density / M_PI, 1.0, 0.2);
  EXPECT_NEAR(weighted.period, 12.0, 0.6);
  // 60 % noise cells: unweighted, the smoothing no longer averages them out.
  EXPECT_GT(plain.counted, weighted.counted * 3 / 2);
}

}  // namespace pinwheels_test
}  // namespace nosharing
