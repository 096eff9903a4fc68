#include "nosharing/analysis/orientation_map_measures.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/analysis/random_orientation_map.h"

namespace nosharing {
namespace orientation_map_measures_test {

TEST(OrientationMapMeasuresTest, SelectiveFractionCountsCircularVarianceBelowPointSix) {
  // |R| > 0.4 ⇔ circular variance < 0.6; NaN cells are not units.
  const torch::Tensor s = torch::tensor({0.1, 0.39, 0.41, 0.9, std::nan("")}, torch::kDouble);
  EXPECT_NEAR(selective_fraction(s), 0.5, 1e-12);
  EXPECT_TRUE(std::isnan(selective_fraction(torch::full({3}, NAN, torch::kDouble))));
}

TEST(OrientationMapMeasuresTest, AGaussianRandomFieldMapInSheetUnits) {
  const OrientationMap map = random_orientation_map(128, 128, {12.0, 0.05, 9});
  const OrientationMapMeasures one = measure_orientation_map(map.preferred, map.selectivity, 1.0);
  EXPECT_NEAR(one.period(), 12.0, 0.6);
  EXPECT_NEAR(one.pinwheels.density / M_PI, 1.0, 0.2);
  EXPECT_GT(one.curve.smoothness, 0.6);
  EXPECT_EQ(one.curve.range_rule, "period");
  // The GRF's selectivity |z|/max|z| is Rayleigh-distributed: some cells, not all, above 0.4.
  EXPECT_GT(one.selective_fraction, 0.05);
  EXPECT_LT(one.selective_fraction, 1.0);
  // Cells of 2.5 µm: every length scales, the density and smoothness do not.
  const OrientationMapMeasures scaled =
      measure_orientation_map(map.preferred, map.selectivity, 2.5);
  EXPECT_NEAR(scaled.period(), 2.5 * one.period(), 1e-9);
  EXPECT_NEAR(scaled.cluster_size, 2.5 * one.cluster_size, 1e-9);
  EXPECT_NEAR(scaled.pinwheels.density, one.pinwheels.density, 1e-12);
  EXPECT_NEAR(scaled.curve.smoothness, one.curve.smoothness, 1e-9);
  const nlohmann::json j = orientation_map_json(scaled, 128, 128);
  for (const char* key : {"column_spacing", "smoothness", "pinwheel_density", "cluster_size",
                          "local_entropy", "selective_fraction", "spectrum", "curve_degrees"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_NEAR(j["border_margin"].get<double>(), 2.5 * one.pinwheels.margin, 1e-9);
  EXPECT_EQ(j.dump().find("NaN"), std::string::npos);
}

// Units without a preference (selectivity 0, θ anything) scattered over a GRF map, as the
// atoms without a good Gabor fit on a `wlsc` sheet: they leave the smoothness out and enter
// the pinwheel count as weight-0 cells, so the density stays π per Λ². As NaN holes they
// would void every plaquette they touch (here about three in four).
TEST(OrientationMapMeasuresTest, UnitsWithoutPreferenceKeepThePinwheelDensity) {
  const OrientationMap map = random_orientation_map(128, 128, {12.0, 0.05, 4});
  torch::manual_seed(3);
  const torch::Tensor none = torch::rand({128, 128}, torch::kDouble) < 0.3;
  const torch::Tensor selectivity =
      torch::where(none, torch::zeros_like(map.selectivity), torch::ones_like(map.selectivity));
  const torch::Tensor holes = torch::where(none, torch::full_like(map.preferred, NAN), map.preferred);
  const torch::Tensor noise =
      torch::where(none, torch::rand({128, 128}, torch::kDouble) * M_PI, map.preferred);
  const OrientationMapMeasures full = measure_orientation_map(map.preferred, torch::Tensor(), 1.0);
  const OrientationMapMeasures with_holes = measure_orientation_map(holes, selectivity, 1.0);
  const OrientationMapMeasures with_noise = measure_orientation_map(noise, selectivity, 1.0);
  EXPECT_NEAR(with_holes.period(), full.period(), 0.1 * full.period());
  EXPECT_NEAR(with_holes.pinwheels.density / M_PI, 1.0, 0.25);
  EXPECT_NEAR(with_holes.pinwheels.density / full.pinwheels.density, 1.0, 0.15);
  EXPECT_GT(with_holes.curve.smoothness, 0.6);
  // The θ of a unit without preference does not matter: NaN or noise, the same measures.
  EXPECT_NEAR(with_noise.pinwheels.density, with_holes.pinwheels.density, 1e-12);
  EXPECT_NEAR(with_noise.curve.smoothness, with_holes.curve.smoothness, 1e-12);
  EXPECT_NEAR(with_noise.selective_fraction, 1.0 - none.to(torch::kDouble).mean().item<double>(),
              1e-12);
  // As NaN holes without a selectivity map the same units void most plaquettes.
  const OrientationMapMeasures nan_only = measure_orientation_map(holes, torch::Tensor(), 1.0);
  EXPECT_LT(nan_only.pinwheels.counted, with_holes.pinwheels.counted / 2);
}

}  // namespace orientation_map_measures_test
}  // namespace nosharing
