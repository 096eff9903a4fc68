#include "nosharing/analysis/connected_components.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace nosharing {
namespace connected_components_test {  // named, not anonymous: the tests compile in unity batches

TEST(ConnectedComponentsTest, FourVersusEightConnectivity) {
  // Two cells touching at a corner, and an L of four cells.
  const torch::Tensor mask =
      torch::tensor({{1, 0, 0, 0}, {0, 1, 0, 1}, {0, 0, 0, 1}, {0, 0, 1, 1}}).to(torch::kBool);
  const Components four = connected_components(mask, false);
  ASSERT_EQ(four.components.size(), 3u);
  EXPECT_EQ(four.components[2].area, 4);
  EXPECT_DOUBLE_EQ(four.components[2].centroid_y, (1 + 2 + 3 + 3) / 4.0);
  EXPECT_DOUBLE_EQ(four.components[2].centroid_x, (3 + 3 + 2 + 3) / 4.0);
  EXPECT_EQ(four.labels[0][0].item<int64_t>(), 1);
  EXPECT_EQ(four.labels[3][2].item<int64_t>(), 3);
  const Components eight = connected_components(mask, true);
  ASSERT_EQ(eight.components.size(), 2u);
  EXPECT_EQ(eight.components[0].area, 2);
  EXPECT_DOUBLE_EQ(eight.components[0].centroid_x, 0.5);
}

}  // namespace connected_components_test
}  // namespace nosharing
