#include "nosharing/analysis/stimuli.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {
namespace stimuli_test {  // named, not anonymous: the tests compile in unity batches

TEST(GratingsTest, ShapesAndFormula) {
  GratingOptions options;
  options.orientations = 8;
  options.phases = 4;
  options.periods = {4.0, 6.0, 9.0};
  const Gratings g = make_gratings(3, 10, 12, options);
  ASSERT_EQ(g.images.sizes(), (std::vector<int64_t>{8 * 4 * 3, 3, 10, 12}));
  ASSERT_EQ(g.orientation.size(0), 96);
  EXPECT_EQ((g.orientation == 5).sum().item<int64_t>(), 12);
  EXPECT_NEAR(g.angles[2].item<double>(), M_PI / 4, 1e-12);
  // Channels are identical; values follow sin(2π (x cos θ + y sin θ)/λ + φ).
  EXPECT_TRUE(torch::equal(g.images.select(1, 0), g.images.select(1, 2)));
  // Stimulus order: orientation, then period, then phase.
  const int64_t s = (2 * 3 + 1) * 4 + 3;  // θ = π/4, λ = 6, φ = 3π/2
  const double theta = M_PI / 4, y = 7, x = 5;
  const double expected =
      std::sin(2 * M_PI * (x * std::cos(theta) + y * std::sin(theta)) / 6.0 + 3 * M_PI / 2);
  EXPECT_NEAR(g.images[s][1][7][5].item<double>(), expected, 1e-5);
  EXPECT_EQ(g.orientation[s].item<int64_t>(), 2);
}

TEST(GratingsTest, RejectsBadOptions) {
  GratingOptions options;
  options.periods = {};
  EXPECT_THROW(make_gratings(1, 8, 8, options), UsageError);
  options.periods = {-1.0};
  EXPECT_THROW(make_gratings(1, 8, 8, options), UsageError);
  EXPECT_THROW(make_gratings(0, 8, 8), UsageError);
}

}  // namespace stimuli_test
}  // namespace nosharing
