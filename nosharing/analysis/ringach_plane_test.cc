#include "nosharing/analysis/ringach_plane.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {
namespace ringach_plane_test {

GaborFit fit_with(double frequency, double sigma_p, double sigma_q) {
  GaborFit fit;
  fit.params.frequency = frequency;
  fit.params.sigma_p = sigma_p;
  fit.params.sigma_q = sigma_q;
  fit.r2 = 1;
  return fit;
}

TEST(RingachPlaneTest, NxAcrossTheBarsNyAlongThemOverIncludedFits) {
  // n_x = σ_p·f (σ along the wave vector), n_y = σ_q·f (along the stripes).
  const std::vector<GaborFit> fits = {fit_with(0.1, 2, 3), fit_with(0.25, 4, 1),
                                      fit_with(0.2, 1, 1), fit_with(0.5, 10, 10)};
  const RingachPlane plane = ringach_plane(fits, {true, true, true, false});
  ASSERT_EQ(plane.nx.size(), 3u);
  EXPECT_EQ(plane.units, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_NEAR(plane.nx[0], 0.2, 1e-12);
  EXPECT_NEAR(plane.ny[0], 0.3, 1e-12);
  EXPECT_NEAR(plane.nx[1], 1.0, 1e-12);
  EXPECT_NEAR(plane.ny[1], 0.25, 1e-12);
  EXPECT_NEAR(plane.median_nx, 0.2, 1e-12);   // {0.2, 1.0, 0.2}
  EXPECT_NEAR(plane.median_ny, 0.25, 1e-12);  // {0.3, 0.25, 0.2}
  EXPECT_NEAR(plane.fraction_below, 2.0 / 3.0, 1e-12);  // the second has n_x = 1
  const RingachPlane strict = ringach_plane(fits, {true, true, true, false},
                                            RingachPlaneOptions().reference(0.25));
  EXPECT_NEAR(strict.fraction_below, 1.0 / 3.0, 1e-12);  // only (0.2, 0.2)
  const nlohmann::json j = ringach_plane_json(plane);
  EXPECT_EQ(j["count"], 3);
  EXPECT_EQ(j["points"].size(), 3u);
  EXPECT_EQ(j["points"][1]["unit"], 1);
  EXPECT_NEAR(j["fraction_below_reference"].get<double>(), 2.0 / 3.0, 1e-12);
}

TEST(RingachPlaneTest, AnEvenCountHasTheMiddleMeanAndNoPointsGiveNull) {
  const std::vector<GaborFit> fits = {fit_with(0.1, 1, 1), fit_with(0.1, 3, 5)};
  const RingachPlane plane = ringach_plane(fits, {true, true});
  EXPECT_NEAR(plane.median_nx, 0.2, 1e-12);
  EXPECT_NEAR(plane.median_ny, 0.3, 1e-12);
  const RingachPlane none = ringach_plane(fits, {false, false});
  EXPECT_TRUE(std::isnan(none.median_nx));
  EXPECT_TRUE(std::isnan(none.fraction_below));
  const nlohmann::json j = ringach_plane_json(none);
  EXPECT_TRUE(j["median_nx"].is_null());
  EXPECT_TRUE(j["fraction_below_reference"].is_null());
}

// A planted Gabor, fitted: its (n_x, n_y) come back, whatever its orientation.
TEST(RingachPlaneTest, RecoversThePlaneOfAPlantedGabor) {
  for (double orientation : {0.0, 0.6, 2.0}) {
    GaborParams planted;
    planted.x0 = 8;
    planted.y0 = 7.5;
    planted.orientation = orientation;
    planted.frequency = 0.15;
    planted.sigma_p = 2.0;  // n_x = 0.3
    planted.sigma_q = 4.0;  // n_y = 0.6
    planted.phase = 1.0;
    const GaborFit fit = fit_gabor(render_gabor(planted, 16, 16));
    ASSERT_GT(fit.r2, 0.99);
    const RingachPlane plane = ringach_plane({fit}, {true});
    ASSERT_EQ(plane.nx.size(), 1u);
    EXPECT_NEAR(plane.nx[0], 0.3, 0.01) << orientation;
    EXPECT_NEAR(plane.ny[0], 0.6, 0.02) << orientation;
  }
}

TEST(RingachPlaneTest, BadInputIsAUsageError) {
  const std::vector<GaborFit> fits = {fit_with(0.1, 1, 1)};
  EXPECT_THROW(ringach_plane(fits, {true, false}), UsageError);
  EXPECT_THROW(ringach_plane(fits, {true}, RingachPlaneOptions().reference(0)), UsageError);
}

}  // namespace ringach_plane_test
}  // namespace nosharing
