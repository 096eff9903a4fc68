#include "nosharing/analysis/gabor_fit.h"

#include <gtest/gtest.h>

#include <cmath>

namespace nosharing {
namespace gabor_fit_test {  // named, not anonymous: the tests compile in unity batches

double angle_difference(double a, double b, double period) {
  const double d = std::fmod(std::abs(a - b), period);
  return std::min(d, period - d);
}

// Planted Gabors on a 16×16 grid, with 5 % pixel noise, are recovered: orientation within
// 3°, frequency within 5 %, centre within 0.3 pixel, σ within 15 %, phase within 0.2 rad,
// R² at least that of the planted parameters.
TEST(GaborFitTest, RecoversPlantedParameters) {
  torch::manual_seed(4);
  const std::vector<GaborParams> planted = {
      {1.0, 7.5, 8.0, 0.3, 0.15, 1.0, 2.5, 3.5},
      {0.7, 6.0, 9.0, 2.0, 0.22, 4.0, 2.0, 2.8},
      {2.0, 8.5, 7.0, 1.2, 0.12, 0.0, 3.0, 4.0},
      {1.0, 9.0, 6.5, 2.9, 0.30, 5.5, 1.5, 2.5},
  };
  for (const GaborParams& truth : planted) {
    const torch::Tensor clean = render_gabor(truth, 16, 16);
    const torch::Tensor image = clean + 0.05 * truth.amplitude * torch::randn({16, 16}, torch::kFloat64);
    const GaborFit fit = fit_gabor(image);
    const GaborParams& p = fit.params;
    SCOPED_TRACE(::testing::Message() << "planted θ " << truth.orientation << " f "
                                      << truth.frequency);
    // At least as good as the planted parameters themselves (noise caps R² below 1).
    const torch::Tensor centred = image - image.mean();
    const double truth_r2 =
        1 - (image - clean).pow(2).sum().item<double>() / centred.pow(2).sum().item<double>();
    EXPECT_GE(fit.r2, truth_r2 - 1e-3);
    EXPECT_LE(angle_difference(p.orientation, truth.orientation, M_PI), 3 * M_PI / 180);
    EXPECT_NEAR(p.frequency, truth.frequency, 0.05 * truth.frequency);
    EXPECT_NEAR(p.x0, truth.x0, 0.3);
    EXPECT_NEAR(p.y0, truth.y0, 0.3);
    EXPECT_NEAR(p.sigma_p, truth.sigma_p, 0.15 * truth.sigma_p);
    EXPECT_NEAR(p.sigma_q, truth.sigma_q, 0.15 * truth.sigma_q);
    EXPECT_LE(angle_difference(p.phase, truth.phase, 2 * M_PI), 0.2);
    EXPECT_NEAR(p.amplitude, truth.amplitude, 0.1 * truth.amplitude);
    EXPECT_TRUE(is_good_gabor(fit, 16, 16, 0.8));
  }
}

TEST(GaborFitTest, NoiseFitsBadlyAndBatchesMatchSingleFits) {
  torch::manual_seed(5);
  const torch::Tensor noise = torch::randn({3, 12, 12}, torch::kFloat64);
  const std::vector<GaborFit> fits = fit_gabors(noise);
  ASSERT_EQ(fits.size(), 3u);
  for (size_t i = 0; i < fits.size(); ++i) {
    EXPECT_LT(fits[i].r2, 0.5);
    EXPECT_FALSE(is_good_gabor(fits[i], 12, 12, 0.8));
    EXPECT_DOUBLE_EQ(fits[i].r2, fit_gabor(noise[static_cast<int64_t>(i)]).r2);
  }
  EXPECT_EQ(fit_gabor(torch::ones({8, 8})).r2, 0.0) << "a constant image has nothing to fit";
}

TEST(GaborFitTest, CentreOutsideThePatchIsNotGood) {
  GaborFit fit;
  fit.r2 = 0.99;
  fit.params.x0 = 12.5;
  fit.params.y0 = 3;
  EXPECT_FALSE(is_good_gabor(fit, 12, 12, 0.8));
  fit.params.x0 = 11;
  EXPECT_TRUE(is_good_gabor(fit, 12, 12, 0.8));
  EXPECT_FALSE(is_good_gabor(fit, 12, 12, 0.995));
}

}  // namespace gabor_fit_test
}  // namespace nosharing
