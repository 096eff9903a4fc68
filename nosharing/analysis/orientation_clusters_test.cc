#include "nosharing/analysis/orientation_clusters.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nosharing/analysis/random_orientation_map.h"

namespace nosharing {
namespace orientation_clusters_test {

// Vertical stripes of width w whose orientation bins cycle 0, 1, …, 7 along x (θ at each
// bin's centre).
torch::Tensor stripes(int64_t height, int64_t width, int64_t stripe) {
  const torch::Tensor bin = (torch::arange(width) / stripe) % 8;
  return ((bin.to(torch::kDouble) + 0.5) * (M_PI / 8)).view({1, -1}).expand({height, width});
}

TEST(OrientationClustersTest, StripesNeedThreeWidthsPlusOneToSeeEveryBin) {
  // From a cell of stripe k the bins needed last are k ± 3 and the nearer of k + 4 ≡ k − 4:
  // r = 3w + 1 for every cell whose disc the left or right border does not cut. The map is
  // 50 periods wide, so the cut cells (within ≈ 4w of those borders, 2 %) move the mean by
  // less than 0.1·w.
  for (int64_t w : {1, 2}) {
    ClusterOptions options;
    options.samples = 2000;
    const double r = orientation_cluster_size(stripes(8, 400 * w, w), options);
    EXPECT_NEAR(r, 3.0 * w + 1, 0.15 * w) << "w = " << w;
  }
}

// The plain definition, every cell against every cell: the radius of the nearest cell of
// each bin, maximised over bins, averaged over the cells that see all bins.
double cluster_size_reference(const torch::Tensor& theta) {
  const int64_t h = theta.size(0), w = theta.size(1);
  const torch::Tensor bins = torch::floor(torch::remainder(theta, M_PI) / (M_PI / 8)).clamp(0, 7);
  double total = 0;
  int64_t counted = 0;
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      std::vector<double> nearest(8, INFINITY);
      for (int64_t yy = 0; yy < h; ++yy) {
        for (int64_t xx = 0; xx < w; ++xx) {
          const int64_t b = bins[yy][xx].item<int64_t>();
          nearest[b] = std::min(nearest[b], std::hypot(double(yy - y), double(xx - x)));
        }
      }
      const double r = *std::max_element(nearest.begin(), nearest.end());
      if (std::isfinite(r)) {
        total += r;
        ++counted;
      }
    }
  }
  return total / counted;
}

TEST(OrientationClustersTest, EqualsThePlainDefinitionWhenEveryCellIsSampled) {
  const OrientationMap map = random_orientation_map(14, 12, {6.0, 0.1, 5});
  ClusterOptions options;
  options.samples = 14 * 12;
  EXPECT_NEAR(orientation_cluster_size(map.preferred, options),
              cluster_size_reference(map.preferred), 1e-12);
}

TEST(OrientationClustersTest, SaltAndPepperNeedsASmallRadiusSmoothMapsALargeOne) {
  const OrientationMap map = random_orientation_map(96, 96, {16.0, 0.05, 2});
  torch::manual_seed(2);
  const torch::Tensor shuffled =
      map.preferred.reshape(-1).index_select(0, torch::randperm(96 * 96)).view({96, 96});
  const double noisy = orientation_cluster_size(shuffled);
  const double smooth = orientation_cluster_size(map.preferred);
  EXPECT_LT(noisy, 3.0);
  EXPECT_GT(smooth, 2 * noisy);
}

TEST(OrientationClustersTest, EntropyIsZeroForAUniformMapAndThreeBitsForCycledStripes) {
  EXPECT_NEAR(local_orientation_entropy(torch::full({32, 32}, 0.3, torch::kDouble)), 0.0, 1e-12);
  // Stripes of width 1: every 8×8 tile holds 8 cells of each bin.
  EXPECT_NEAR(local_orientation_entropy(stripes(32, 32, 1)), 3.0, 1e-12);
  // Tiles mostly NaN are skipped; a map with none left is undefined.
  EXPECT_TRUE(std::isnan(local_orientation_entropy(torch::full({8, 8}, NAN, torch::kDouble))));
}

}  // namespace orientation_clusters_test
}  // namespace nosharing
