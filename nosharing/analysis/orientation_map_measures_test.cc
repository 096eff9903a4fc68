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

}  // namespace orientation_map_measures_test
}  // namespace nosharing
