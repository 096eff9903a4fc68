#include "nosharing/analysis/category.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {
namespace category_test {  // named, not anonymous: the tests compile in unity batches

TEST(CategoryTest, DprimeMatchesTheFormula) {
  // One unit; class 0 responses 1, 3 (μ 2, σ² 1); others 0, 0, 2, 2 (μ 1, σ² 1) → d′ = 1.
  const torch::Tensor r = torch::tensor({{1.0}, {3.0}, {0.0}, {0.0}, {2.0}, {2.0}});
  const torch::Tensor labels = torch::tensor({0, 0, 1, 2, 1, 2}, torch::kLong);
  const torch::Tensor d = category_dprime(r, labels, 4);
  EXPECT_NEAR(d[0][0].item<double>(), 1.0, 1e-12);
  // Class 1 (0, 2): μ 1, σ² 1; out (1, 3, 0, 2): μ 1.5, σ² 1.25 → −0.5/√1.125.
  EXPECT_NEAR(d[1][0].item<double>(), -0.5 / std::sqrt(1.125), 1e-12);
  EXPECT_TRUE(std::isnan(d[3][0].item<double>()));  // no image of class 3
}

TEST(CategoryTest, StreamedBatchesEqualOneBatch) {
  torch::manual_seed(1);
  const torch::Tensor r = torch::randn({40, 7}, torch::kDouble) + 3;
  const torch::Tensor labels = torch::randint(3, {40}, torch::kLong);
  CategoryStatistics stats(3, 7);
  stats.add(r.slice(0, 0, 15), labels.slice(0, 0, 15));
  stats.add(r.slice(0, 15), labels.slice(0, 15));
  EXPECT_EQ(stats.images(), 40);
  // Against the two-pass formula.
  for (int64_t k = 0; k < 3; ++k) {
    const torch::Tensor in = r.index({labels == k}), out = r.index({labels != k});
    const torch::Tensor expected =
        (in.mean(0) - out.mean(0)) / torch::sqrt((in.var(0, false) + out.var(0, false)) / 2);
    EXPECT_TRUE(torch::allclose(stats.dprime()[k], expected, 1e-9, 1e-9));
  }
  EXPECT_THROW(stats.add(r.slice(0, 0, 2), torch::tensor({0, 3}, torch::kLong)), RuntimeError);
}

TEST(CategoryTest, PatchesAboveThresholdWithMinimumArea) {
  torch::Tensor map = torch::zeros({6, 6}, torch::kDouble);
  map.slice(0, 0, 2).slice(1, 0, 2).fill_(2.0);  // area 4
  map[4][4] = 1.0;                               // area 1: too small
  map[5][0] = 0.85;                              // not above the threshold
  map[3][3] = NAN;
  const Components p = find_patches(map, {0.85, 2});
  ASSERT_EQ(p.components.size(), 1u);
  EXPECT_EQ(p.components[0].area, 4);
  EXPECT_EQ(p.labels.sum().item<int64_t>(), 4);
  EXPECT_EQ(find_patches(map, {0.85, 1}).components.size(), 2u);
}

}  // namespace category_test
}  // namespace nosharing
