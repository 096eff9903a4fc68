#include "nosharing/core/sheet.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

#include "nosharing/core/error.h"

namespace nosharing {
namespace sheet_test {  // named, not anonymous: the tests compile in unity batches

torch::Tensor points(std::vector<double> values) {
  return torch::tensor(values, torch::kFloat64).view({-1, 2});
}

// A layer of C = 4 channels on a 1×2 grid: units u = (c·1 + y)·2 + x, i.e.
// u0 = (c0, x0), u1 = (c0, x1), u2 = (c1, x0), u3 = (c1, x1), … u7 = (c3, x1).
TEST(SheetTest, ColumnLayoutPutsEveryChannelAtItsPosition) {
  const Sheet sheet(SheetOptions(4, 1, 2).layout(SheetLayout::kColumn));
  EXPECT_TRUE(torch::equal(sheet.coordinates(),
                           points({0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1})));
  EXPECT_TRUE(torch::equal(sheet.grids(), torch::arange(8).view({4, 1, 2})));
}

TEST(SheetTest, HypercolumnLayoutTilesChannelsAsSquareBlocks) {
  const Sheet sheet(SheetOptions(4, 1, 2).layout(SheetLayout::kHypercolumn));
  // Channel c at block row c / 2, block column c mod 2; position x's block starts at 2x.
  EXPECT_TRUE(torch::equal(sheet.coordinates(),
                           points({0, 0, 0, 2,     // c0
                                   0, 1, 0, 3,     // c1
                                   1, 0, 1, 2,     // c2
                                   1, 1, 1, 3})));  // c3
  // The sheet is 2×4: row 0 = c0x0 c1x0 c0x1 c1x1, row 1 = c2x0 c3x0 c2x1 c3x1.
  EXPECT_TRUE(torch::equal(sheet.grids(),
                           torch::tensor({0, 2, 1, 3, 4, 6, 5, 7}, torch::kInt64).view({1, 2, 4})));
  // Grid cell (r, s) holds the unit whose coordinates are (r, s).
  const torch::Tensor grid = sheet.grids().view({-1});
  EXPECT_TRUE(torch::equal(sheet.coordinates(grid), position_coordinates(2, 4)));
}

TEST(SheetTest, HypercolumnLayoutOnTwoByTwoPositions) {
  const Sheet sheet(SheetOptions(4, 2, 2).layout(SheetLayout::kHypercolumn));
  // Unit (c3, y1, x0) = (3·2 + 1)·2 + 0 = 14 → (2·1 + 1, 2·0 + 1).
  EXPECT_TRUE(torch::equal(sheet.coordinates(torch::tensor({14}, torch::kInt64)), points({3, 1})));
  // Unit (c1, y0, x1) = 1·4 + 1 = 5 → (0, 3).
  EXPECT_TRUE(torch::equal(sheet.coordinates(torch::tensor({5}, torch::kInt64)), points({0, 3})));
}

TEST(SheetTest, HypercolumnLayoutRefusesNonSquareChannels) {
  EXPECT_THROW(Sheet(SheetOptions(8, 2, 2).layout(SheetLayout::kHypercolumn)), UsageError);
}

TEST(SheetTest, RetinotopicLayoutWithoutJitterPutsChannelsAtScaledTileCentres) {
  // Longer side 2 positions on a sheet of extent 4: tiles of side 2, centres at 1 and 3.
  const Sheet sheet(
      SheetOptions(2, 1, 2).layout(SheetLayout::kRetinotopic).extent(4.0).jitter(0.0));
  EXPECT_TRUE(torch::allclose(sheet.coordinates(), points({1, 1, 1, 3, 1, 1, 1, 3})));
}

TEST(SheetTest, RetinotopicJitterStaysInTheTileAndFollowsTheSeed) {
  auto options = SheetOptions(9, 3, 4).layout(SheetLayout::kRetinotopic).extent(8.0);
  const Sheet sheet(options.jitter(1.0).seed(7));
  const double tile = 8.0 / 4.0;
  // Each unit stays inside its position's tile [y·t, (y+1)·t) × [x·t, (x+1)·t).
  const torch::Tensor tile_corner = Sheet(SheetOptions(9, 3, 4)).coordinates() * tile;
  const torch::Tensor inside = sheet.coordinates() - tile_corner;
  EXPECT_GE(inside.min().item<double>(), 0.0);
  EXPECT_LT(inside.max().item<double>(), tile);
  // Channels of one position are scattered, not stacked.
  EXPECT_GT((sheet.coordinates()[0] - sheet.coordinates()[12]).abs().sum().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(sheet.coordinates(), Sheet(options.jitter(1.0).seed(7)).coordinates()));
  EXPECT_FALSE(torch::equal(sheet.coordinates(), Sheet(options.jitter(1.0).seed(8)).coordinates()));
  EXPECT_THROW(Sheet(options.jitter(1.5)), UsageError);
}

TEST(SheetTest, LayoutNamesRoundTripAndUnknownNamesAreUsageErrors) {
  for (auto layout : {SheetLayout::kColumn, SheetLayout::kHypercolumn, SheetLayout::kRetinotopic}) {
    EXPECT_EQ(parse_sheet_layout(sheet_layout_name(layout), "model.layout"), layout);
  }
  try {
    parse_sheet_layout("hex", "model.layout");
    FAIL() << "no exception";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("model.layout = \"hex\""), std::string::npos);
  }
}

TEST(SheetTest, NeighbourhoodHoldsExactlyTheUnitsWithinTheRadius) {
  torch::manual_seed(3);
  const Sheet sheet(SheetOptions(4, 5, 5).layout(SheetLayout::kHypercolumn));  // 10×10 sheet
  for (int trial = 0; trial < 20; ++trial) {
    const torch::Tensor units = sheet.sample_neighbourhood(1.5, 1000);
    const torch::Tensor centre = sheet.coordinates()[units[0].item<int64_t>()];
    const torch::Tensor from_centre = (sheet.coordinates() - centre).pow(2).sum(1).sqrt();
    // Brute force over the whole (small) sheet: same set, no duplicates.
    std::set<int64_t> expected;
    for (int64_t u = 0; u < sheet.num_units(); ++u) {
      if (from_centre[u].item<double>() <= 1.5) expected.insert(u);
    }
    std::set<int64_t> got;
    for (int64_t i = 0; i < units.size(0); ++i) got.insert(units[i].item<int64_t>());
    EXPECT_EQ(got, expected);
    EXPECT_EQ(static_cast<size_t>(units.size(0)), got.size());
    // An interior centre has its 3×3 block: 9 units within 1.5.
    EXPECT_LE(got.size(), 9u);
  }
}

TEST(SheetTest, NeighbourhoodIsCappedAndKeepsItsCentre) {
  torch::manual_seed(4);
  const Sheet sheet(SheetOptions(16, 8, 8));  // column layout: 16 units per point
  const torch::Tensor units = sheet.sample_neighbourhood(3.0, 50);
  EXPECT_EQ(units.size(0), 50);
  EXPECT_EQ(std::get<0>(torch::_unique(units)).size(0), 50);
  const torch::Tensor d = sheet.distances(units);
  EXPECT_LE(d[0].max().item<double>(), 3.0 + 1e-9);
}

// The loop draws what the plain tensor expression draws from the same generator state:
// the centre, then nonzero(‖c_u − c_centre‖ ≤ r) without it, and a randperm subset.
TEST(SheetTest, NeighbourhoodMatchesTheTensorExpression) {
  const Sheet sheet(SheetOptions(16, 8, 8).layout(SheetLayout::kRetinotopic));  // jittered
  for (const int64_t cap : {int64_t{50}, int64_t{100000}}) {
    torch::manual_seed(5);
    const torch::Tensor fast = sheet.sample_neighbourhood(2.5, cap);
    torch::manual_seed(5);
    const int64_t centre = torch::randint(sheet.num_units(), {1}, torch::kInt64).item<int64_t>();
    const torch::Tensor from_centre =
        (sheet.coordinates() - sheet.coordinates()[centre]).pow(2).sum(1).sqrt();
    torch::Tensor inside = torch::nonzero(from_centre <= 2.5 + 1e-9).squeeze(1);
    inside = inside.masked_select(inside != centre);
    if (inside.size(0) > cap - 1) {
      inside = inside.index_select(
          0, torch::randperm(inside.size(0), torch::kInt64).narrow(0, 0, cap - 1));
    }
    const torch::Tensor expected = torch::cat({torch::full({1}, centre, torch::kInt64), inside});
    EXPECT_TRUE(torch::equal(fast, expected)) << "cap " << cap;
  }
}

TEST(SheetTest, DistancesOfANeighbourhoodByHand) {
  const Sheet sheet(SheetOptions(4, 1, 2).layout(SheetLayout::kHypercolumn));
  // u0 at (0, 0), u3 at (0, 3), u7 at (1, 3).
  const torch::Tensor d = sheet.distances(torch::tensor({0, 3, 7}, torch::kInt64));
  const double s10 = std::sqrt(10.0);
  EXPECT_TRUE(torch::allclose(d, torch::tensor({0.0, 3.0, s10, 3.0, 0.0, 1.0, s10, 1.0, 0.0},
                                               torch::kFloat64)
                                     .view({3, 3})));
  EXPECT_THROW(sheet.distances(torch::zeros({Sheet::kMaxPairwiseUnits + 1}, torch::kInt64)),
               c10::Error);
}

}  // namespace sheet_test
}  // namespace nosharing
