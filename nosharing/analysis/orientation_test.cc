#include "nosharing/analysis/orientation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace nosharing {
namespace orientation_test {  // named, not anonymous: the tests compile in unity batches

TEST(OrientationTest, TuningTakesTheMaxPerOrientationAndClampsNegatives) {
  // 4 stimuli of 2 orientations, 2 units.
  const torch::Tensor responses =
      torch::tensor({{1.0, -2.0}, {3.0, -1.0}, {0.5, 4.0}, {-1.0, 2.0}});
  const torch::Tensor orientation = torch::tensor({0, 0, 1, 1}, torch::kLong);
  const torch::Tensor tuning = orientation_tuning(responses, orientation, 2);
  EXPECT_TRUE(torch::allclose(tuning, torch::tensor({{3.0, 0.0}, {0.5, 4.0}}, torch::kDouble)));
}

TEST(OrientationTest, DoubledAngleVectorAverage) {
  const torch::Tensor angles = torch::arange(4, torch::kDouble) * (M_PI / 4);  // 0, 45, 90, 135°
  // Unit 0 responds only at 45°: preferred 45°, selectivity 1. Unit 1 equally to all: 0.
  // Unit 2: r = (1, 1, 0, 0): R = (1 + i)/2 → preferred 22.5°, |R| = 1/√2. Unit 3 silent.
  const torch::Tensor tuning = torch::tensor(
      {{0.0, 1.0, 1.0, 0.0}, {1.0, 1.0, 1.0, 0.0}, {0.0, 1.0, 0.0, 0.0}, {0.0, 1.0, 0.0, 0.0}},
      torch::kDouble);
  const OrientationPreference p = orientation_preference(tuning, angles);
  EXPECT_NEAR(p.preferred[0].item<double>(), M_PI / 4, 1e-12);
  EXPECT_NEAR(p.selectivity[0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(p.selectivity[1].item<double>(), 0.0, 1e-12);
  EXPECT_NEAR(p.preferred[2].item<double>(), M_PI / 8, 1e-12);
  EXPECT_NEAR(p.selectivity[2].item<double>(), 1 / std::sqrt(2.0), 1e-12);
  EXPECT_EQ(p.selectivity[3].item<double>(), 0.0);
  // A unit preferring 170° is reported in [0, π), not negative.
  const torch::Tensor near_pi = torch::tensor({{1.0}, {0.0}, {0.0}, {1.0}}, torch::kDouble);
  const double pref = orientation_preference(near_pi, angles).preferred[0].item<double>();
  EXPECT_NEAR(pref, 157.5 * M_PI / 180, 1e-12);
}

TEST(OrientationTest, DifferenceWrapsToNinetyDegrees) {
  const torch::Tensor a = torch::tensor({0.0, 10.0, 170.0, 90.0}, torch::kDouble) * (M_PI / 180);
  const torch::Tensor b = torch::tensor({0.0, 170.0, 10.0, 0.0}, torch::kDouble) * (M_PI / 180);
  const torch::Tensor d = orientation_difference(a, b) * (180 / M_PI);
  EXPECT_TRUE(torch::allclose(d, torch::tensor({0.0, 20.0, 20.0, 90.0}, torch::kDouble), 0, 1e-9));
}

}  // namespace orientation_test
}  // namespace nosharing
