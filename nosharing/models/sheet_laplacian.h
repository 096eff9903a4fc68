// The graph Laplacian of a square sheet of units and the three quadratic forms the `wlsc`
// model regularises with (DESIGN §2; Huml, Tasissa & Ba 2024, seed 004).
//
// Sheet: N = side² units at integer grid coordinates (row-major: unit i sits at
// (i / side, i % side)), no wrap-around at the edges. Neighbour weights
//   W_ij = exp(−d_ij² / 2σ²)  for 0 < d_ij ≤ radius,  0 otherwise,
// d_ij the Euclidean grid distance (radius 1: the 4 nearest neighbours; 1.5: the 8 of the
// 3×3 ring). Laplacian L = diag(Σ_j W_ij) − W.
//
// The sums below run over unordered pairs {i, j} (each pair once), so that
//   atoms:     R_A(A) = Σ_{i<j} W_ij ‖a_i − a_j‖²   = tr(A L Aᵀ)
//   codes:     R_x(x) = Σ_{i<j} W_ij (x_i − x_j)²   = xᵀ L x
// and the Hessian of β·R_x is 2βL — the 2β·λ_max(L) in ISTA's Lipschitz constant
// L_f = ‖A‖₂² + 2β·λ_max(L) (DESIGN §2).
//   bipartite: R_B(y, A, x) = Σ_j x_j ‖y − a_j‖²
// is the Laplacian quadratic form of the bipartite graph between the datum y and the atoms
// with edge weights x_j — a Laplacian (and R_B ≥ 0) only when x ≥ 0; it is linear in x, so
// it adds nothing to L_f. Its gradient pulls each atom towards the data it codes.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

// W [N, N] (float64), symmetric, zero diagonal. UsageError for side < 1, radius < 1 (no
// neighbours) or sigma ≤ 0.
torch::Tensor sheet_neighbour_weights(int64_t side, double radius, double sigma);

// L = diag(W·1) − W, [N, N], same dtype as `weights`.
torch::Tensor graph_laplacian(const torch::Tensor& weights);

// Largest eigenvalue of a symmetric Laplacian (exact, via eigvalsh in float64).
double laplacian_max_eigenvalue(const torch::Tensor& laplacian);

// The sheet's W as a stencil. W_ij depends only on the grid offset between i and j, so
// W·x for codes laid out on the sheet is a 2-D correlation with a (2⌊radius⌋+1)² kernel,
// zero-padded at the edges (no wrap-around, as W), and L·x = deg ⊙ x − W·x. It costs
// O(B·N·k²) against the dense x·L's O(B·N²): on a 32×32 sheet with the 3×3 ring about 100×
// fewer operations, which is what makes a 1024-atom sheet trainable in minutes on a CPU.
struct SheetStencil {
  int64_t side = 0;
  torch::Tensor kernel;  // float64 [1, 1, k, k], W for each offset (centre 0)
  torch::Tensor degree;  // float64 [N], Σ_j W_ij (smaller at the edges)
};

// The stencil of sheet_neighbour_weights(side, radius, sigma); the same UsageErrors.
SheetStencil sheet_stencil(int64_t side, double radius, double sigma);

// L·x for codes x [B, N] → [B, N] in x's dtype (equal to x·L: L is symmetric).
torch::Tensor apply_sheet_laplacian(const torch::Tensor& codes, const SheetStencil& stencil);

// R_x = xᵀLx through the stencil, codes [B, N] → [B] (equal to code_laplacian_form).
torch::Tensor code_laplacian_form(const torch::Tensor& codes, const SheetStencil& stencil);

// R_A for a dictionary A [D, N] (atoms are columns) → scalar.
torch::Tensor atom_laplacian_form(const torch::Tensor& dictionary, const torch::Tensor& laplacian);

// R_x for codes x [B, N] → [B].
torch::Tensor code_laplacian_form(const torch::Tensor& codes, const torch::Tensor& laplacian);

// R_B for data y [B, D], dictionary A [D, N], codes x [B, N] → [B].
// ‖y − a_j‖² is expanded as ‖y‖² − 2 y·a_j + ‖a_j‖², a [B, N] matrix in one GEMM.
torch::Tensor bipartite_form(const torch::Tensor& data, const torch::Tensor& dictionary,
                             const torch::Tensor& codes);

// The plain per-pair sums (loops over neighbour pairs), the reference the matrix forms
// above are tested against.
torch::Tensor atom_laplacian_form_reference(const torch::Tensor& dictionary,
                                            const torch::Tensor& weights);
torch::Tensor code_laplacian_form_reference(const torch::Tensor& codes,
                                            const torch::Tensor& weights);
torch::Tensor bipartite_form_reference(const torch::Tensor& data, const torch::Tensor& dictionary,
                                       const torch::Tensor& codes);

}  // namespace nosharing
