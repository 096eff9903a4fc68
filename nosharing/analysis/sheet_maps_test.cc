#include "nosharing/analysis/sheet_maps.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/sheet.h"

namespace nosharing {
namespace sheet_maps_test {  // named, not anonymous: the tests compile in unity batches

TEST(SheetMapsTest, MostSelectiveChannelPerPosition) {
  // 2 channels on a 1×3 grid, units (c, y, x) in flatten order.
  const torch::Tensor score = torch::tensor({0.1, 0.9, std::nan(""), 0.5, 0.2, 0.3});
  const torch::Tensor grid = most_selective_units(score, 2, 1, 3);
  EXPECT_TRUE(torch::equal(grid, torch::tensor({{3, 1, 5}}, torch::kLong)));
  const torch::Tensor values = torch::arange(6, torch::kDouble) * 10;
  EXPECT_TRUE(
      torch::equal(gather_map(values, grid), torch::tensor({{30.0, 10.0, 50.0}}, torch::kDouble)));
  const torch::Tensor coords = Sheet(SheetOptions(2, 1, 3)).coordinates();
  EXPECT_TRUE(torch::equal(coords[4], torch::tensor({0.0, 1.0}, torch::kDouble)));
}

TEST(SheetMapsTest, MapGridFollowsTheLayout) {
  const torch::Tensor score = torch::rand({4 * 2 * 3});
  // Column: one cell per position.
  const Sheet column(SheetOptions(4, 2, 3));
  EXPECT_TRUE(torch::equal(map_grid(column, score), most_selective_units(score, 4, 2, 3)));
  // Hypercolumn: every unit a cell, channels tiled 2×2 per position.
  const Sheet hyper(SheetOptions(4, 2, 3).layout(SheetLayout::kHypercolumn));
  const torch::Tensor grid = map_grid(hyper, score);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{4, 6}));
  EXPECT_EQ(std::get<0>(grid.flatten().sort()).equal(torch::arange(24)), true);
  EXPECT_EQ(grid[1][1].item<int64_t>(), 3 * 6);  // channel 3 (row 1, column 1) at (0, 0)
}

}  // namespace sheet_maps_test
}  // namespace nosharing
