#include "nosharing/topography/spatial_correlation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "nosharing/core/gradcheck_test_util.h"

namespace nosharing {
namespace spatial_correlation_test {  // named, not anonymous: the tests compile in unity batches

TEST(SpatialCorrelationTest, HandComputedThreeUnits) {
  // Units on a line at 0, 1, 2. Responses over 3 images: u0 = u1 = (1, 0, −1), u2 = −u0.
  // Lower-triangle pairs (1,0), (2,0), (2,1): r = (1, −1, −1), s = (1/2, 1/3, 1/2).
  // Centred: r (4/3, −2/3, −2/3), s (1/18, −1/9, 1/18); cov 1/9, ‖r‖ = √24/3, ‖s‖ = √6/18,
  // corr = (1/9) / (12/54) = 1/2 → L = 1/4.
  const torch::Tensor responses =
      torch::tensor({1.0, 1.0, -1.0, 0.0, 0.0, 0.0, -1.0, -1.0, 1.0}, torch::kFloat64).view({3, 3});
  const Sheet sheet(SheetOptions(1, 1, 3));
  const torch::Tensor units = torch::arange(3);
  EXPECT_NEAR(spatial_correlation_loss(responses, sheet.distances(units)).item<double>(), 0.25,
              1e-9);
}

TEST(SpatialCorrelationTest, CorrelationFallingAsOneOverDistancePlusOneGivesZero) {
  // Responses whose correlation matrix is exactly K_ij = 1/(d_ij + 1) for 6 units on a line
  // (K is positive definite: 1/(1 + |t|) is convex and decreasing, Pólya's criterion):
  // X = Q·Lᵀ with Q centred and orthonormal over the batch and K = L·Lᵀ.
  torch::manual_seed(3);
  const int64_t n = 6;
  const Sheet sheet(SheetOptions(1, 1, n));
  const torch::Tensor d = sheet.distances(torch::arange(n));
  const torch::Tensor k = 1.0 / (d + 1.0);
  torch::Tensor noise = torch::randn({40, n}, torch::kFloat64);
  noise = noise - noise.mean(0, true);
  const torch::Tensor q = std::get<0>(torch::linalg_qr(noise));
  const torch::Tensor x = q.mm(torch::linalg_cholesky(k).t());
  EXPECT_NEAR(spatial_correlation_loss(x, d).item<double>(), 0.0, 1e-9);
  // Independent responses are far from it.
  EXPECT_GT(spatial_correlation_loss(torch::randn({40, n}, torch::kFloat64), d).item<double>(),
            0.1);
}

TEST(SpatialCorrelationTest, ModuleOnASmallSheetEqualsTheLossOverAllUnits) {
  // A radius covering the whole sheet and a cap above its size: the neighbourhood is every
  // unit (in another order, which does not change the loss).
  torch::manual_seed(4);
  const Sheet sheet(SheetOptions(4, 2, 3).layout(SheetLayout::kHypercolumn));
  TopographicLayer layer{"lc1", sheet};
  layer.responses = torch::randn({16, 4, 2, 3}, torch::kFloat64);
  SpatialCorrelationLoss loss(SpatialCorrelationLossOptions().radius(100).units(1000));
  const torch::Tensor all = torch::arange(sheet.num_units());
  EXPECT_NEAR(loss->forward(layer).item<double>(),
              spatial_correlation_loss(layer.responses.flatten(1), sheet.distances(all))
                  .item<double>(),
              1e-9);
  // A column sheet: its 24 units share 6 points, which the module's loss sums over; the
  // distances form treats every unit as its own point. Same value and gradient.
  const Sheet column(SheetOptions(4, 2, 3));
  TopographicLayer columns{"lc1", column};
  columns.responses = layer.responses.clone().requires_grad_(true);
  const torch::Tensor flat = layer.responses.flatten(1).clone().requires_grad_(true);
  const torch::Tensor by_points = loss->forward(columns);
  const torch::Tensor by_units = spatial_correlation_loss(flat, column.distances(all));
  EXPECT_NEAR(by_points.item<double>(), by_units.item<double>(), 1e-12);
  by_points.backward();
  by_units.backward();
  EXPECT_TRUE(torch::allclose(columns.responses.grad().flatten(1), flat.grad(), 1e-9, 1e-12));
  // The same map stored batch-innermost (the unshared kernels' layout, read as [U, B] rows):
  // the same loss and the same gradient.
  const torch::Tensor nchw = layer.responses.clone().requires_grad_(true);
  const torch::Tensor chwn =
      layer.responses.permute({1, 2, 3, 0}).contiguous().permute({3, 0, 1, 2}).requires_grad_(true);
  TopographicLayer strided = layer;
  layer.responses = nchw;
  strided.responses = chwn;
  const torch::Tensor from_nchw = loss->forward(layer);
  const torch::Tensor from_chwn = loss->forward(strided);
  EXPECT_NEAR(from_nchw.item<double>(), from_chwn.item<double>(), 1e-12);
  from_nchw.backward();
  from_chwn.backward();
  EXPECT_TRUE(torch::allclose(nchw.grad(), chwn.grad(), 1e-9, 1e-12));
}

TEST(SpatialCorrelationTest, ConstantResponsesAndEqualDistancesStayFinite) {
  const torch::Tensor responses = torch::ones({8, 5});
  const Sheet column(SheetOptions(5, 1, 1));  // five channels at one point: all d = 0
  const double value =
      spatial_correlation_loss(responses, column.distances(torch::arange(5))).item<double>();
  EXPECT_TRUE(std::isfinite(value));
  EXPECT_NEAR(value, 0.5, 1e-6);
}

TEST(SpatialCorrelationTest, GradientMatchesFiniteDifferences) {
  torch::manual_seed(5);
  const Sheet sheet(SheetOptions(1, 2, 2));
  const torch::Tensor d = sheet.distances(torch::arange(4));
  EXPECT_TRUE(test_util::gradients_match_finite_differences(
      [&](const std::vector<torch::Tensor>& in) { return spatial_correlation_loss(in[0], d); },
      {torch::randn({5, 4})}));
}

// The masked form against the pair-gathering reference, values and gradients, including a
// constant unit and a neighbourhood of one position (all distances equal).
TEST(SpatialCorrelationTest, MaskedFormMatchesThePairReference) {
  torch::manual_seed(31);
  const Sheet sheet(SheetOptions(4, 5, 5).layout(SheetLayout::kHypercolumn));
  const torch::Tensor units = torch::arange(0, 60, 2);
  torch::Tensor x0 = torch::randn({16, 30}, torch::kFloat64);
  x0.select(1, 3).fill_(2.0);  // a constant unit
  for (const torch::Tensor& d : {sheet.distances(units), torch::zeros({30, 30}, torch::kFloat64)}) {
    const torch::Tensor a = x0.clone().requires_grad_(true);
    const torch::Tensor b = x0.clone().requires_grad_(true);
    const torch::Tensor fast = spatial_correlation_loss(a, d);
    const torch::Tensor slow = spatial_correlation_loss_reference(b, d);
    EXPECT_NEAR(fast.item<double>(), slow.item<double>(), 1e-12);
    fast.backward();
    slow.backward();
    EXPECT_TRUE(torch::allclose(a.grad(), b.grad(), 1e-9, 1e-12));
  }
}

}  // namespace spatial_correlation_test
}  // namespace nosharing
