#include "nosharing/analysis/map_spectrum.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/analysis/random_orientation_map.h"

namespace nosharing {
namespace map_spectrum_test {

TEST(MapSpectrumTest, PlaneWaveRingIsItsPeriodAndPowerSumsToOne) {
  const torch::Tensor x = torch::arange(96, torch::kDouble).view({1, -1}).expand({96, 96});
  const RadialSpectrum spectrum = orientation_spectrum(x * (M_PI / 12.0));  // Λ = 12
  double total = 0;
  for (double p : spectrum.power) total += p;
  EXPECT_NEAR(total, 1.0, 1e-9);
  EXPECT_NEAR(spectrum.frequency[1], 1.0 / 96, 1e-12);
  const ColumnSpacing spacing = column_spacing(spectrum);
  EXPECT_NEAR(spacing.period, 12.0, 1e-9);
  EXPECT_GT(spacing.peak_ratio, 100.0);
}

TEST(MapSpectrumTest, SubBinRingOfAGaussianRandomField) {
  // Λ = 11 on 128 cells falls between the bins at 11.6 and 10.7 cells.
  const OrientationMap map = random_orientation_map(128, 128, {11.0, 0.05, 4});
  EXPECT_NEAR(column_spacing(orientation_spectrum(map.preferred)).period, 11.0, 0.3);
}

TEST(MapSpectrumTest, WhiteNoiseATrendAndAConstantHaveNoColumnSpacing) {
  torch::manual_seed(1);
  const torch::Tensor noise = torch::rand({64, 64}, torch::kDouble) * M_PI;
  EXPECT_TRUE(std::isnan(column_spacing(orientation_spectrum(noise)).period));
  // One cycle across the map: a trend, not columns.
  const torch::Tensor x = torch::arange(64, torch::kDouble).view({1, -1}).expand({64, 64});
  EXPECT_TRUE(std::isnan(column_spacing(orientation_spectrum(x * (M_PI / 64.0))).period));
  EXPECT_TRUE(
      std::isnan(column_spacing(orientation_spectrum(torch::full({16, 16}, 0.2, torch::kDouble)))
                     .period));
}

TEST(MapSpectrumTest, NanCellsCarryNoOrientation) {
  const OrientationMap map = random_orientation_map(96, 96, {12.0, 0.05, 2});
  torch::Tensor holes = map.preferred.clone();
  holes.index_put_({torch::rand({96, 96}) < 0.2}, NAN);
  EXPECT_NEAR(column_spacing(orientation_spectrum(holes)).period, 12.0, 0.6);
}

}  // namespace map_spectrum_test
}  // namespace nosharing
