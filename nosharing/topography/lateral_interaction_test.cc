#include "nosharing/topography/lateral_interaction.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <vector>

#include "nosharing/analysis/pinwheels.h"
#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace lateral_interaction_test {  // named, not anonymous: the tests compile in unity batches

// Unit vectors (cos φ, sin φ) of a plane wave φ = 2π x / period on an H × W grid: [1, 2, H, W].
torch::Tensor plane_wave(int64_t height, int64_t width, double period) {
  const torch::Tensor x = torch::arange(width, torch::kFloat64).expand({height, width});
  const torch::Tensor phase = 2 * M_PI * x / period;
  return torch::stack({torch::cos(phase), torch::sin(phase)}).unsqueeze(0);
}

TEST(LateralInteractionTest, CentreWidthPlacesThePeakAtTheSpacing) {
  // r = 2: σe²k₀²/2 = ln 4 / 3, so σe = Λ·√(2 ln 4 / 3) / (2π).
  EXPECT_NEAR(lateral_centre_sigma(12.0, 2.0), 12.0 * std::sqrt(2 * std::log(4.0) / 3) / (2 * M_PI),
              1e-12);
  // K̂(k) = e^{−σe²k²/2} − e^{−σi²k²/2} is largest at k₀ = 2π/Λ for any ratio.
  for (const double ratio : {1.5, 2.0, 3.0}) {
    const double centre = lateral_centre_sigma(10.0, ratio);
    const auto response = [&](double k) {
      return std::exp(-centre * centre * k * k / 2) -
             std::exp(-ratio * ratio * centre * centre * k * k / 2);
    };
    const double k0 = 2 * M_PI / 10.0;
    EXPECT_GT(response(k0), response(k0 * 0.95)) << ratio;
    EXPECT_GT(response(k0), response(k0 * 1.05)) << ratio;
  }
}

TEST(LateralInteractionTest, MeanMatrixRowsSumToOneAndAreGaussian) {
  const torch::Tensor m = gaussian_mean_matrix(9, 1.5);
  EXPECT_TRUE(torch::allclose(m.sum(1), torch::ones({9}, torch::kFloat64)));
  // Inside the sheet a row is the normalised Gaussian: neighbours at distance 1 and 2 have
  // weights in the ratio e^{−(1 − 4)/(2σ²)}.
  EXPECT_NEAR((m[4][5] / m[4][6]).item<double>(), std::exp(3.0 / (2 * 1.5 * 1.5)), 1e-12);
  EXPECT_NEAR(m[0][7].item<double>(), 0.0, 1e-15);  // beyond 4σ
}

TEST(LateralInteractionTest, UniformFieldScoresZeroEvenAtTheBorders) {
  // Both means of a uniform field are the field itself, border cells included.
  const torch::Tensor uniform = torch::randn({1, 5, 1, 1}, torch::kFloat64).expand({1, 5, 20, 30});
  EXPECT_NEAR(lateral_interaction_similarity(uniform, 8.0, 2.0).item<double>(), 0.0, 1e-12);
}

TEST(LateralInteractionTest, PlaneWavesScoreHighestAtTheRequestedSpacing) {
  // The band-pass in action: of plane waves at periods around Λ = 12, the one at Λ scores
  // highest; far longer periods (a smooth trend) and far shorter ones (noise) score near 0.
  const double spacing = 12.0;
  std::vector<double> scores;
  const std::vector<double> periods = {3.0, 6.0, 9.0, 12.0, 16.0, 24.0, 96.0};
  for (const double period : periods) {
    scores.push_back(
        lateral_interaction_similarity(plane_wave(96, 96, period), spacing, 2.0).item<double>());
  }
  for (size_t i = 0; i < periods.size(); ++i) {
    if (periods[i] != spacing) EXPECT_LT(scores[i], scores[3]) << "period " << periods[i];
  }
  EXPECT_LT(std::abs(scores.front()), 0.05);
  EXPECT_LT(std::abs(scores.back()), 0.05);
}

TEST(LateralInteractionTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(3);
  const auto similarity = [](const std::vector<torch::Tensor>& in) {
    return lateral_interaction_similarity(in[0], 4.0, 2.0);
  };
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      similarity, {torch::randn({2, 3, 5, 6}, torch::kFloat64)}));
}

TEST(LateralInteractionTest, LossReadsTheHypercolumnSheetWithBias) {
  // The loss lays the units out on Sheet::grids() exactly as the similarity expects.
  torch::manual_seed(5);
  const Sheet sheet(SheetOptions(4, 6, 5).layout(SheetLayout::kHypercolumn));  // 12 × 10 cells
  TopographicLayer layer{"lc1", sheet};
  layer.weight = torch::randn({30, 4, 7}, torch::kFloat64);
  layer.bias = torch::randn({30, 4}, torch::kFloat64);
  const torch::Tensor vectors = unit_weight_vectors(layer.weight, layer.bias);
  const torch::Tensor grids = sheet.grids();
  const torch::Tensor x = vectors.index_select(0, grids.reshape({-1}))
                              .view({1, 12, 10, 8})
                              .permute({0, 3, 1, 2});
  const double expected = (1 - lateral_interaction_similarity(x, 5.0, 2.0).item<double>()) / 2;
  EXPECT_NEAR(LateralInteractionLoss(LateralInteractionLossOptions().spacing(5.0))
                  ->forward(layer)
                  .item<double>(),
              expected, 1e-12);
  // Tied kernels (every unit the same): the uniform field, L = ½.
  layer.weight = torch::randn({1, 1, 7}, torch::kFloat64).expand({30, 4, 7});
  layer.bias = torch::ones({30, 4}, torch::kFloat64);
  EXPECT_NEAR(LateralInteractionLoss()->forward(layer).item<double>(), 0.5, 1e-12);
}

TEST(LateralInteractionTest, DescentFromNoiseGrowsAMapAtTheSpacingWithPinwheels) {
  // The loss alone on a field of 2-D unit vectors read as e^{2iθ} (an orientation map):
  // from white noise, gradient descent makes a band-limited map whose column spacing is the
  // one asked for, with pinwheels at about π per Λ² (the density of band-limited random
  // maps, Wolf & Geisel 1998) — what the smoothness losses, without a length scale, cannot.
  torch::manual_seed(11);
  const double spacing = 10.0;
  torch::Tensor field = torch::randn({1, 2, 80, 80}, torch::kFloat64).requires_grad_(true);
  torch::optim::Adam adam({field}, torch::optim::AdamOptions(0.05));
  for (int step = 0; step < 120; ++step) {
    adam.zero_grad();
    const torch::Tensor loss = -lateral_interaction_similarity(field, spacing, 2.0);
    loss.backward();
    adam.step();
  }
  const torch::Tensor f = field.detach()[0];
  const torch::Tensor theta = torch::atan2(f[1], f[0]) / 2;
  const PinwheelResult map = find_pinwheels(theta);
  ASSERT_TRUE(std::isfinite(map.period));
  EXPECT_NEAR(map.period, spacing, 0.15 * spacing);
  EXPECT_GT(map.density, M_PI * 0.6);
  EXPECT_LT(map.density, M_PI * 1.6);
}

// A k×k grating kernel of wave-vector direction theta (analysis/stimuli.h's convention),
// under a Gaussian window, in the locally connected layout [1, 1, k²].
torch::Tensor grating_kernel(int64_t kernel, double theta, double period) {
  const torch::Tensor t = torch::arange(kernel, torch::kFloat64) - (kernel - 1) / 2.0;
  const torch::Tensor y = t.view({kernel, 1}).expand({kernel, kernel});
  const torch::Tensor x = t.view({1, kernel}).expand({kernel, kernel});
  const torch::Tensor window = torch::exp(-(x * x + y * y) / (2 * 1.5 * 1.5));
  return (window * torch::cos(2 * M_PI * (x * std::cos(theta) + y * std::sin(theta)) / period))
      .reshape({1, 1, -1});
}

TEST(LateralInteractionTest, OrientationVectorsReadTheKernelsOrientation) {
  // A grating kernel: arg(z)/2 is its orientation and |z| large; polarity does not matter;
  // a centre-surround (isotropic) kernel has |z| near 0.
  for (const double theta : {0.0, 0.4, M_PI / 2, 2.5}) {
    const torch::Tensor kernel = grating_kernel(5, theta, 3.0);
    for (const double sign : {1.0, -1.0}) {
      const torch::Tensor z = kernel_orientation_vectors(sign * kernel, 5);
      const double angle = std::atan2(z[0][1].item<double>(), z[0][0].item<double>()) / 2;
      const double difference = std::remainder(angle - theta, M_PI);
      EXPECT_LT(std::abs(difference), 0.1) << theta;
      EXPECT_GT(z.norm().item<double>(), 0.5) << theta;
    }
  }
  const torch::Tensor t = torch::arange(5, torch::kFloat64) - 2;
  const torch::Tensor r2 = (t.view({5, 1}).pow(2) + t.view({1, 5}).pow(2));
  const torch::Tensor centre_surround =
      (torch::exp(-r2 / 2) - 0.25 * torch::exp(-r2 / 8)).reshape({1, 1, 25});
  EXPECT_LT(kernel_orientation_vectors(centre_surround, 5).norm().item<double>(), 0.05);
}

TEST(LateralInteractionTest, OrientationVectorsFollowTheUnitOrderAndInputChannels) {
  // weight [P = 2, C = 3, C_in = 2 · 9]: unit (c, p) is row c·P + p, and the power sums over
  // the input channels (a kernel oriented in one channel and zero in the other is as oriented).
  torch::manual_seed(2);
  torch::Tensor weight = torch::zeros({2, 3, 18}, torch::kFloat64);
  weight[1][2].narrow(0, 9, 9).copy_(grating_kernel(3, 0.0, 2.0).view({9}));
  const torch::Tensor z = kernel_orientation_vectors(weight, 3);
  ASSERT_EQ(z.sizes(), (std::vector<int64_t>{6, 2}));
  EXPECT_GT(z[5][0].item<double>(), 0.5);  // c = 2, p = 1; θ = 0: z ≈ +1
  EXPECT_NEAR(z.narrow(0, 0, 5).abs().sum().item<double>(), 0.0, 1e-12);  // zero kernels: 0
}

TEST(LateralInteractionTest, QuadraticFormsEqualTheDftReference) {
  // Random kernels with 1 and 3 input channels, sides 3, 5 and 7, float64 and float32.
  torch::manual_seed(6);
  for (const int64_t kernel : {3, 5, 7}) {
    for (const int64_t inputs : {1, 3}) {
      const torch::Tensor weight = torch::randn({6, 4, inputs * kernel * kernel}, torch::kFloat64);
      EXPECT_TRUE(torch::allclose(kernel_orientation_vectors(weight, kernel),
                                  kernel_orientation_vectors_reference(weight, kernel), 1e-9,
                                  1e-12))
          << kernel << " " << inputs;
      const torch::Tensor single = weight.to(torch::kFloat32);
      EXPECT_TRUE(torch::allclose(kernel_orientation_vectors(single, kernel),
                                  kernel_orientation_vectors_reference(single, kernel), 1e-4,
                                  1e-5))
          << kernel << " " << inputs;
    }
  }
}

TEST(LateralInteractionTest, OrientationVectorGradientMatchesFiniteDifferences) {
  torch::manual_seed(4);
  const auto vectors = [](const std::vector<torch::Tensor>& in) {
    return kernel_orientation_vectors(in[0], 3);
  };
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      vectors, {torch::randn({2, 2, 18}, torch::kFloat64)}));
}

TEST(LateralInteractionTest, OrientationFieldLossFavoursOrientedKernelsAtTheSpacing) {
  // A sheet whose kernels' orientation turns with period Λ along x scores a lower loss than
  // the same sheet with one orientation everywhere, and than isotropic kernels.
  const int64_t side = 24;
  const double spacing = 8.0;
  const Sheet sheet(SheetOptions(1, side, side));
  const auto loss_of = [&](const std::function<torch::Tensor(int64_t)>& kernel_at) {
    TopographicLayer layer{"lc1", sheet};
    std::vector<torch::Tensor> kernels;
    for (int64_t p = 0; p < side * side; ++p) kernels.push_back(kernel_at(p % side));
    layer.weight = torch::cat(kernels, 0);  // [P, 1, 25]
    layer.bias = torch::zeros({side * side, 1}, torch::kFloat64);
    layer.kernel = 5;
    return LateralInteractionLoss(LateralInteractionLossOptions()
                                      .spacing(spacing)
                                      .field(InteractionField::kOrientation))
        ->forward(layer)
        .item<double>();
  };
  const double map = loss_of([&](int64_t x) { return grating_kernel(5, M_PI * x / spacing, 3.0); });
  const double uniform = loss_of([](int64_t) { return grating_kernel(5, 0.3, 3.0); });
  const double isotropic = loss_of([](int64_t) { return torch::ones({1, 1, 25}, torch::kFloat64); });
  EXPECT_LT(map, uniform);
  EXPECT_LT(map, isotropic);
  EXPECT_NEAR(uniform, 0.5, 1e-9);    // uniform field: S = 0
  EXPECT_NEAR(isotropic, 0.5, 1e-9);  // z = 0
}

}  // namespace lateral_interaction_test
}  // namespace nosharing
