#include "nosharing/analysis/sheet_maps.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace nosharing {
namespace {

TEST(SheetMapsTest, MostSelectiveChannelPerPosition) {
  // 2 channels on a 1×3 grid, units (c, y, x) in flatten order.
  const torch::Tensor score = torch::tensor({0.1, 0.9, std::nan(""), 0.5, 0.2, 0.3});
  const torch::Tensor grid = most_selective_units(score, 2, 1, 3);
  EXPECT_TRUE(torch::equal(grid, torch::tensor({{3, 1, 5}}, torch::kLong)));
  const torch::Tensor values = torch::arange(6, torch::kDouble) * 10;
  EXPECT_TRUE(torch::equal(gather_map(values, grid), torch::tensor({{30.0, 10.0, 50.0}}, torch::kDouble)));
  const torch::Tensor coords = column_unit_coordinates(2, 1, 3);
  EXPECT_TRUE(torch::equal(coords[4], torch::tensor({0.0, 1.0}, torch::kDouble)));
}

}  // namespace
}  // namespace nosharing
