#include "nosharing/models/sheet_laplacian.h"

#include <gtest/gtest.h>

#include <cmath>
#include <tuple>

#include "nosharing/core/error.h"

namespace nosharing {
namespace sheet_laplacian_test {  // named, not anonymous: the tests compile in unity batches

// 2×2 sheet, radius 1: the 4-cycle 0–1–3–2–0 (units at (0,0), (0,1), (1,0), (1,1)), every
// edge weight w = exp(−1/2) (σ = 1, d = 1).
const double kW = std::exp(-0.5);

TEST(SheetLaplacianTest, NeighbourWeightsOfATinySheet) {
  const torch::Tensor w = sheet_neighbour_weights(2, 1.0, 1.0);
  const torch::Tensor expected = torch::tensor({0.0, kW, kW, 0.0,  //
                                                kW, 0.0, 0.0, kW,  //
                                                kW, 0.0, 0.0, kW,  //
                                                0.0, kW, kW, 0.0},
                                               torch::kFloat64)
                                     .view({4, 4});
  EXPECT_TRUE(w.allclose(expected, 0, 1e-15)) << w;
  // Radius 1.5 adds the diagonals, weight exp(−2/2).
  EXPECT_NEAR(sheet_neighbour_weights(2, 1.5, 1.0)[0][3].item<double>(), std::exp(-1.0), 1e-15);
  // The 4-cycle's Laplacian has eigenvalues 0, 2w, 2w, 4w.
  EXPECT_NEAR(laplacian_max_eigenvalue(graph_laplacian(w)), 4 * kW, 1e-12);
  EXPECT_THROW(sheet_neighbour_weights(2, 0.5, 1.0), UsageError);
}

TEST(SheetLaplacianTest, AtomFormEqualsAHandComputation) {
  // One-dimensional atoms a = (1, 2, 3, 5): edges 0–1: (1−2)² = 1, 0–2: (1−3)² = 4,
  // 1–3: (2−5)² = 9, 2–3: (3−5)² = 4 → R_A = 18 w.
  const torch::Tensor a = torch::tensor({1.0, 2.0, 3.0, 5.0}, torch::kFloat64).view({1, 4});
  const torch::Tensor w = sheet_neighbour_weights(2, 1.0, 1.0);
  EXPECT_NEAR(atom_laplacian_form(a, graph_laplacian(w)).item<double>(), 18 * kW, 1e-12);
  EXPECT_NEAR(atom_laplacian_form_reference(a, w).item<double>(), 18 * kW, 1e-12);
}

TEST(SheetLaplacianTest, CodeFormEqualsAHandComputation) {
  // x = (1, 0, 2, −1): edges 0–1: 1, 0–2: 1, 1–3: 1, 2–3: 9 → R_x = 12 w. Second sample
  // constant: 0.
  const torch::Tensor x =
      torch::tensor({1.0, 0.0, 2.0, -1.0, 3.0, 3.0, 3.0, 3.0}, torch::kFloat64).view({2, 4});
  const torch::Tensor w = sheet_neighbour_weights(2, 1.0, 1.0);
  const torch::Tensor r = code_laplacian_form(x, graph_laplacian(w));
  EXPECT_NEAR(r[0].item<double>(), 12 * kW, 1e-12);
  EXPECT_NEAR(r[1].item<double>(), 0.0, 1e-12);
  EXPECT_TRUE(code_laplacian_form_reference(x, w).allclose(r, 0, 1e-12));
}

TEST(SheetLaplacianTest, BipartiteFormEqualsAHandComputation) {
  // y = (1, 0); atoms a_0 = (1, 0), a_1 = (0, 1); x = (2, 3):
  // 2·‖(0, 0)‖² + 3·‖(1, −1)‖² = 6.
  const torch::Tensor y = torch::tensor({1.0, 0.0}, torch::kFloat64).view({1, 2});
  const torch::Tensor a = torch::eye(2, torch::kFloat64);
  const torch::Tensor x = torch::tensor({2.0, 3.0}, torch::kFloat64).view({1, 2});
  EXPECT_NEAR(bipartite_form(y, a, x).item<double>(), 6.0, 1e-12);
  EXPECT_NEAR(bipartite_form_reference(y, a, x).item<double>(), 6.0, 1e-12);
}

TEST(SheetLaplacianTest, MatrixFormsMatchPairSumsOnARandomSheet) {
  torch::manual_seed(3);
  const torch::Tensor w = sheet_neighbour_weights(4, 1.5, 0.8);
  const torch::Tensor lap = graph_laplacian(w);
  const torch::Tensor a = torch::randn({5, 16}, torch::kFloat64);
  const torch::Tensor x = torch::randn({3, 16}, torch::kFloat64);
  const torch::Tensor y = torch::randn({3, 5}, torch::kFloat64);
  EXPECT_TRUE(atom_laplacian_form(a, lap).allclose(atom_laplacian_form_reference(a, w), 1e-12));
  EXPECT_TRUE(code_laplacian_form(x, lap).allclose(code_laplacian_form_reference(x, w), 1e-12));
  EXPECT_TRUE(bipartite_form(y, a, x).allclose(bipartite_form_reference(y, a, x), 1e-12));
  // xᵀLx ≥ 0: a Laplacian is positive semi-definite.
  EXPECT_GE(code_laplacian_form(x, lap).min().item<double>(), 0.0);
}

// The stencil form (a 2-D correlation on the sheet) equals the dense L, edges included, for
// the 4- and 8-neighbourhoods and a wider ring.
TEST(SheetLaplacianTest, StencilEqualsTheDenseLaplacian) {
  torch::manual_seed(0);
  for (const auto& [side, radius, sigma] :
       {std::tuple<int64_t, double, double>{5, 1.0, 1.0}, {6, 1.5, 1.0}, {7, 2.5, 1.7}, {1, 1.0, 1.0}}) {
    const torch::Tensor lap = graph_laplacian(sheet_neighbour_weights(side, radius, sigma));
    const SheetStencil stencil = sheet_stencil(side, radius, sigma);
    EXPECT_TRUE(stencil.degree.allclose(lap.diagonal(), 0, 1e-12)) << side;
    const torch::Tensor x = torch::randn({3, side * side}, torch::kFloat64);
    EXPECT_TRUE(apply_sheet_laplacian(x, stencil).allclose(x.mm(lap), 0, 1e-12)) << side;
    EXPECT_TRUE(code_laplacian_form(x, stencil).allclose(code_laplacian_form(x, lap), 0, 1e-10));
    // float32 codes get a float32 result.
    EXPECT_EQ(apply_sheet_laplacian(x.to(torch::kFloat32), stencil).scalar_type(), torch::kFloat32);
  }
  EXPECT_THROW(sheet_stencil(4, 0.5, 1.0), UsageError);
  EXPECT_THROW(apply_sheet_laplacian(torch::zeros({2, 10}), sheet_stencil(3, 1.0, 1.0)),
               c10::Error);
}

}  // namespace sheet_laplacian_test
}  // namespace nosharing
