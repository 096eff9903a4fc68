#include "nosharing/analysis/pinwheels.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace nosharing {
namespace pinwheels_test {  // named, not anonymous: the tests compile in unity batches

TEST(PinwheelsTest, PlaneWaveHasNoPinwheelAndItsPeriod) {
  // θ = π x / Λ: the doubled angle is a plane wave of period Λ = 16 on a 64-wide sheet.
  const torch::Tensor x = torch::arange(64, torch::kDouble).view({1, -1}).expand({48, 64});
  const PinwheelResult r = find_pinwheels(x * (M_PI / 16.0));
  EXPECT_EQ(r.count(), 0);
  EXPECT_NEAR(r.period, 16.0, 1e-9);
  EXPECT_EQ(r.density, 0.0);  // 48 / 16 = 3 periods: enough
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
  const PinwheelResult r = find_pinwheels(theta, {0.0, 3.0});
  ASSERT_EQ(r.count(), 2);
  for (const Pinwheel& p : r.pinwheels) {
    EXPECT_NEAR(p.y, 9.5, 1e-9);
    EXPECT_NEAR(p.x, p.sign > 0 ? 7.5 : 21.5, 1e-9);
  }
  EXPECT_EQ(r.winding.abs().sum().item<int64_t>(), 8);  // four vertices around each
}

TEST(PinwheelsTest, DensityIsNullOnSheetsSpanningFewPeriods) {
  const torch::Tensor x = torch::arange(12, torch::kDouble).view({1, -1}).expand({12, 12});
  const PinwheelResult r = find_pinwheels(x * (M_PI / 6.0));  // Λ = 6: two periods
  EXPECT_NEAR(r.period, 6.0, 1e-9);
  EXPECT_TRUE(std::isnan(r.density));
  EXPECT_TRUE(std::isnan(orientation_map_period(torch::full({8, 8}, 0.4, torch::kDouble))));
}

TEST(PinwheelsTest, SmoothingAveragesDoubledAngles) {
  // 0° next to 179°: the doubled-angle mean is near 0°/180°, not 90°.
  torch::Tensor theta = torch::zeros({1, 2}, torch::kDouble);
  theta[0][1] = 179.0 * M_PI / 180;
  const torch::Tensor s = smooth_orientation_map(theta, 1.0) * (180 / M_PI);
  for (int i = 0; i < 2; ++i) {
    const double v = s[0][i].item<double>();
    EXPECT_TRUE(v < 1.0 || v > 179.0) << v;
  }
}

}  // namespace pinwheels_test
}  // namespace nosharing
