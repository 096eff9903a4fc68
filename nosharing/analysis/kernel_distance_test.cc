#include "nosharing/analysis/kernel_distance.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace nosharing {
namespace kernel_distance_test {  // named, not anonymous: the tests compile in unity batches

TEST(KernelDistanceTest, SharedIsZeroIndependentIsRootTwo) {
  torch::manual_seed(0);
  const torch::Tensor shared = torch::randn({1, 3, 50}).expand({64, 3, 50});
  EXPECT_NEAR(kernel_distance(shared, 8, 8, 1), 0.0, 1e-12);
  // Independent kernels of (nearly) equal norm: ‖a − b‖ ≈ √2 ‖a‖ at every radius.
  const torch::Tensor random = torch::randn({64, 3, 2000});
  EXPECT_NEAR(kernel_distance(random, 8, 8, 1), std::sqrt(2.0), 0.03);
  EXPECT_NEAR(kernel_distance(random, 8, 8, 4), std::sqrt(2.0), 0.03);
  EXPECT_TRUE(std::isnan(kernel_distance(random, 8, 8, 8)));
}

TEST(KernelDistanceTest, HandExampleCountsChebyshevRing) {
  // A 1×3 sheet of scalar kernels 0, 1, 3: pairs at r = 1: |1|, |2| → mean 1.5;
  // rms norm √((0 + 1 + 9)/3). r = 2: |3|.
  const torch::Tensor w = torch::tensor({0.0, 1.0, 3.0}, torch::kDouble).view({3, 1, 1});
  const double rms = std::sqrt(10.0 / 3);
  EXPECT_NEAR(kernel_distance(w, 1, 3, 1), 1.5 / rms, 1e-12);
  EXPECT_NEAR(kernel_distance(w, 1, 3, 2), 3.0 / rms, 1e-12);
  // A smooth map of kernels: nearby kernels are closer than distant ones.
  const torch::Tensor ramp = torch::arange(36, torch::kDouble).view({36, 1, 1}) / 36 + 1;
  EXPECT_LT(kernel_distance(ramp, 6, 6, 1), kernel_distance(ramp, 6, 6, 4));
}

}  // namespace kernel_distance_test
}  // namespace nosharing
