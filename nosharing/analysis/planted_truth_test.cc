// Planted-truth tests of the map analyses (issue 6): layers and responses built by hand
// with a known map, which every measure must recover through the same path a trained
// model takes (gratings → layer → tuning → maps).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "nosharing/analysis/category.h"
#include "nosharing/analysis/orientation.h"
#include "nosharing/analysis/pinwheels.h"
#include "nosharing/analysis/retinotopy.h"
#include "nosharing/analysis/sheet_maps.h"
#include "nosharing/analysis/smoothness.h"
#include "nosharing/analysis/stimuli.h"
#include "nosharing/core/sheet.h"
#include "nosharing/layers/locally_connected.h"

namespace nosharing {
namespace planted_truth_test {  // named, not anonymous: the tests compile in unity batches

struct PlantedPinwheel {
  double y, x;
  int sign;
};

// θ(y, x) = ½ Σ_j s_j atan2(y − y_j, x − x_j) + θ₀: the doubled angle winds once around every
// planted pinwheel (sign s_j) and nowhere else. Centres sit between grid vertices.
torch::Tensor designed_orientation_map(int64_t side, const std::vector<PlantedPinwheel>& planted) {
  torch::Tensor theta = torch::full({side, side}, 0.3, torch::kDouble);
  auto a = theta.accessor<double, 2>();
  for (int64_t y = 0; y < side; ++y) {
    for (int64_t x = 0; x < side; ++x) {
      for (const PlantedPinwheel& p : planted) {
        a[y][x] +=
            0.5 * p.sign * std::atan2(static_cast<double>(y) - p.y, static_cast<double>(x) - p.x);
      }
    }
  }
  return torch::remainder(theta, M_PI);
}

// A 1-channel input, stride 1, unpadded LC layer (input side + kernel − 1, so that no kernel
// is cut by the border) whose two channels at position (y, x) are a quadrature pair of Gabors with
// wave-vector angle theta[y, x] (the convention of the gratings: cos(2π (dx cos θ + dy sin θ)/λ +
// φ)).
LocallyConnected2d gabor_layer(const torch::Tensor& theta, int64_t kernel) {
  const int64_t side = theta.size(0);
  LocallyConnected2d layer(
      LocallyConnected2dOptions(1, 2, kernel, side + kernel - 1, side + kernel - 1)
          .reference(true));
  const double sigma = 1.6, lambda = 5.0;
  torch::NoGradGuard no_grad;
  auto w = layer->weight.accessor<float, 3>();
  const auto t = theta.accessor<double, 2>();
  for (int64_t p = 0; p < side * side; ++p) {
    const double th = t[p / side][p % side];
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t ky = 0; ky < kernel; ++ky) {
        for (int64_t kx = 0; kx < kernel; ++kx) {
          const double dy = ky - kernel / 2, dx = kx - kernel / 2;
          const double envelope = std::exp(-(dx * dx + dy * dy) / (2 * sigma * sigma));
          const double phase = 2 * M_PI * (dx * std::cos(th) + dy * std::sin(th)) / lambda;
          w[p][c][ky * kernel + kx] =
              static_cast<float>(envelope * (c == 0 ? std::cos(phase) : std::sin(phase)));
        }
      }
    }
  }
  layer->bias.zero_();
  return layer;
}

struct Measured {
  torch::Tensor preferred_map;  // [side, side]
  OrientationPreference preference;
  SmoothnessCurve curve;
};

Measured measure(LocallyConnected2d& layer, int64_t side) {
  torch::NoGradGuard no_grad;
  const int64_t input = layer->options.input_height();
  const Gratings gratings = make_gratings(1, input, input);
  const torch::Tensor responses = torch::relu(layer->forward(gratings.images)).flatten(1);
  const torch::Tensor tuning = orientation_tuning(responses, gratings.orientation, 16);
  Measured m;
  m.preference = orientation_preference(tuning, gratings.angles);
  const torch::Tensor grid = most_selective_units(m.preference.selectivity, 2, side, side);
  m.preferred_map = gather_map(m.preference.preferred, grid);
  m.curve =
      smoothness_curve(m.preference.preferred, Sheet(SheetOptions(2, side, side)).coordinates(),
                       MapDifference::kOrientation);
  return m;
}

const std::vector<PlantedPinwheel> kPlanted = {
    {7.5, 7.5, 1}, {7.5, 22.5, -1}, {22.5, 7.5, -1}, {22.5, 22.5, 1}};

TEST(PlantedTruthTest, GaborMapGivesOrientationsPinwheelsAndSmoothness) {
  const int64_t side = 30;
  const torch::Tensor theta = designed_orientation_map(side, kPlanted);
  LocallyConnected2d layer = gabor_layer(theta, 7);
  const Measured m = measure(layer, side);

  const torch::Tensor error = orientation_difference(m.preferred_map, theta) * (180.0 / M_PI);
  EXPECT_LT(error.max().item<double>(), 10.0) << "mean error " << error.mean().item<double>();
  EXPECT_GT(m.preference.selectivity.min().item<double>(), 0.2);

  const PinwheelResult pinwheels = find_pinwheels(m.preferred_map);
  ASSERT_EQ(pinwheels.count(), 4);
  for (const PlantedPinwheel& planted : kPlanted) {
    bool found = false;
    for (const Pinwheel& p : pinwheels.pinwheels) {
      found =
          found || (std::hypot(p.y - planted.y, p.x - planted.x) < 1.5 && p.sign == planted.sign);
    }
    EXPECT_TRUE(found) << "pinwheel at " << planted.y << ", " << planted.x;
  }
  EXPECT_GT(m.curve.smoothness, 0.7);
}

TEST(PlantedTruthTest, ShuffledKernelsAreSaltAndPepper) {
  const int64_t side = 30;
  LocallyConnected2d layer = gabor_layer(designed_orientation_map(side, kPlanted), 7);
  torch::manual_seed(3);
  {
    torch::NoGradGuard no_grad;
    layer->weight.copy_(layer->weight.index_select(0, torch::randperm(side * side)));
  }
  const Measured m = measure(layer, side);
  EXPECT_LT(std::abs(m.curve.smoothness), 0.1);
  // Still crisp tuning: only the arrangement is gone.
  EXPECT_GT(m.preference.selectivity.mean().item<double>(), 0.2);
}

TEST(PlantedTruthTest, CategoryPatchesAreRecovered) {
  // A 16×16 sheet of 2 channels; class k drives the units of channel 0 inside its planted
  // discs (class 0: two discs, class 1: one, class 2: none) by +2 (noise σ = 1).
  const int64_t side = 16, channels = 2, classes = 3, images = 600;
  torch::manual_seed(4);
  const torch::Tensor labels = torch::arange(images) % classes;
  torch::Tensor responses = torch::randn({images, channels, side, side}, torch::kDouble);
  const std::vector<std::vector<std::array<double, 3>>> discs = {
      {{3, 3, 2.5}, {11, 12, 3}}, {{10, 3, 2}}, {}};
  std::vector<torch::Tensor> planted;
  const torch::Tensor yy = torch::arange(side, torch::kDouble).view({-1, 1});
  const torch::Tensor xx = torch::arange(side, torch::kDouble).view({1, -1});
  for (int64_t k = 0; k < classes; ++k) {
    torch::Tensor mask = torch::zeros({side, side}, torch::kBool);
    for (const auto& d : discs[k]) {
      mask = mask | ((yy - d[0]).pow(2) + (xx - d[1]).pow(2) <= d[2] * d[2]);
    }
    planted.push_back(mask);
    responses.select(1, 0).index_put_(
        {labels == k}, responses.select(1, 0).index({labels == k}) + 2.0 * mask.to(torch::kDouble));
  }
  const torch::Tensor dprime = category_dprime(responses.flatten(1), labels, classes);
  for (int64_t k = 0; k < classes; ++k) {
    const torch::Tensor grid = most_selective_units(dprime[k], channels, side, side);
    const torch::Tensor map = gather_map(dprime[k], grid);
    const Components patches = find_patches(map, {0.85, 4});
    EXPECT_EQ(static_cast<size_t>(patches.components.size()), discs[k].size()) << "class " << k;
    // Cells inside a planted disc are in a patch, cells far from one are not.
    EXPECT_TRUE(((patches.labels > 0) == planted[k]).to(torch::kDouble).mean().item<double>() >
                0.97)
        << "class " << k;
  }
}

TEST(PlantedTruthTest, HandPlacedReceptiveFieldsAreRecovered) {
  // Stride 2, padding 2, 5×5 kernels on a 16×16 input: position (y, x) looks at pixels
  // 2y − 2 + ky. Each kernel is one-hot at a chosen offset, so the RF centre is that pixel.
  const int64_t side = 16, kernel = 5, stride = 2, pad = 2;
  LocallyConnected2d layer(LocallyConnected2dOptions(1, 1, kernel, side, side)
                               .stride(stride)
                               .padding(pad)
                               .reference(true));
  const int64_t out = layer->output_height();
  torch::manual_seed(5);
  torch::Tensor expected = torch::zeros({out * out, 2}, torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    layer->weight.zero_();
    layer->bias.zero_();
    for (int64_t p = 0; p < out * out; ++p) {
      const int64_t y = p / out, x = p % out;
      // Offsets whose pixel lies inside the image: 0 ≤ stride·y − pad + k ≤ side − 1.
      auto offset = [&](int64_t at) {
        const int64_t lo = std::max<int64_t>(0, pad - stride * at);
        const int64_t hi = std::min<int64_t>(kernel - 1, side - 1 - (stride * at - pad));
        return lo + torch::randint(hi - lo + 1, {1}).item<int64_t>();
      };
      const int64_t ky = offset(y), kx = offset(x);
      layer->weight[p][0][ky * kernel + kx] = 1.0;
      expected[p][0] = stride * y - pad + ky;
      expected[p][1] = stride * x - pad + kx;
    }
  }
  const UnitFunction f = [&](const torch::Tensor& images) {
    return layer->forward(images).flatten(1);
  };
  const torch::Tensor centres = rf_centres(f, 1, side, side, torch::arange(out * out), {2, 16, 0});
  EXPECT_TRUE(torch::allclose(centres, expected, 0, 1e-9)) << centres - expected;
  const double r = rf_position_correlation(centres, Sheet(SheetOptions(1, out, out)).coordinates());
  EXPECT_GT(r, 0.95);
}

}  // namespace planted_truth_test
}  // namespace nosharing
