#include "nosharing/analysis/retinotopy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace nosharing {
namespace retinotopy_test {  // named, not anonymous: the tests compile in unity batches

TEST(RetinotopyTest, CentreOfMassOfAbsoluteGradient) {
  // Unit 0 = 2·I[0, 1, 1] − I[0, 1, 3] (weights 2 and 1 at x = 1 and 3): centre x = 5/3;
  // unit 1 = a constant: gradient 0 → NaN.
  const UnitFunction f = [](const torch::Tensor& images) {
    const torch::Tensor u0 = 2 * images.select(1, 0).select(1, 1).select(1, 1) -
                             images.select(1, 0).select(1, 1).select(1, 3);
    return torch::stack({u0, torch::zeros_like(u0)}, 1);
  };
  const torch::Tensor c = rf_centres(f, 1, 4, 5, torch::tensor({0, 1}, torch::kLong));
  EXPECT_NEAR(c[0][0].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(c[0][1].item<double>(), 5.0 / 3, 1e-12);
  EXPECT_TRUE(std::isnan(c[1][0].item<double>()));
}

TEST(RetinotopyTest, CorrelationIgnoresNanRowsAndConstantAxes) {
  const torch::Tensor centres =
      torch::tensor({{0.0, 0.0}, {1.0, 2.0}, {2.0, 4.1}, {std::nan(""), 1.0}}, torch::kDouble);
  const torch::Tensor positions =
      torch::tensor({{0.0, 0.0}, {1.0, 1.0}, {2.0, 2.0}, {3.0, 3.0}}, torch::kDouble);
  EXPECT_GT(rf_position_correlation(centres, positions), 0.99);
  EXPECT_LT(rf_position_correlation(-centres, positions), -0.99);
  // Positions along y only (a 1-wide sheet): x is skipped.
  torch::Tensor flat = positions.clone();
  flat.select(1, 1).fill_(0);
  EXPECT_NEAR(rf_position_correlation(centres, flat), 1.0, 1e-12);
}

}  // namespace retinotopy_test
}  // namespace nosharing
