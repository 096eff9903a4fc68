// Lateral-interaction loss (ours, after the Mexican-hat interaction of cortical map models:
// von der Malsburg 1973; Swindale 1982, 1996; Kohonen 1982): neighbouring units' kernels
// should be alike and units half a column spacing apart unlike. With n_u = normalize([w_u; b_u])
// laid out on the grids of Sheet::grids(), and Gaussian means over the sheet
//   m_σ(u) = Σ_v g_σ(u − v) n_v / Σ_v g_σ(u − v)        (border cells: over the cells that exist)
// at a centre width σ_e and a surround width σ_i = r·σ_e,
//   S = mean_u n_u · (m_σe(u) − m_σi(u)),     L = (1 − S) / 2.
// Why: the smoothness losses (kernel smoothness, TopoLoss, TDANN's correlation target) have no
// length scale; a map under them coarsens until a domain spans the sheet (docs/RESULTS.md,
// "Maps that emerge"). The difference of Gaussians is a band-pass: in Fourier terms
// S = Σ_k K̂(k)|N̂(k)|² with K̂(k) = e^{−σe²k²/2} − e^{−σi²k²/2}, zero for a uniform field and
// largest at the wavenumber k₀ with σe²k₀²/2 = ln(r²)/(r² − 1). We place k₀ at the requested
// column spacing Λ (k₀ = 2π/Λ), so
//   σe = Λ·√(2 ln(r²)/(r² − 1)) / (2π),   σi = r·σe     (r = 2: σe ≈ 0.153 Λ).
// A field of unit vectors descending L alone from noise becomes a band-limited map at Λ whose
// pinwheel density passes through π and then falls slowly as pinwheel pairs annihilate
// (lateral_interaction_test.cc); the task loss keeps the map from annealing to a crystal.
// Both weights are exact on the sheet's edges: each Gaussian mean is normalised by the mass it
// has inside the sheet, so a uniform field scores 0 everywhere. Separable blurs as two
// products with row-normalised banded matrices [H, H] and [W, W], in plain LibTorch ops
// (autograd gives the gradient; checked by float64 finite differences).
#pragma once

#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <tuple>

#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct LateralInteractionLossOptions {
  // Λ, the column spacing the interaction selects, in sheet cells (> 2: a period needs at
  // least two cells).
  TORCH_ARG(double, spacing) = 12.0;
  // r = σi/σe > 1, the surround's width over the centre's.
  TORCH_ARG(double, surround) = 2.0;
  // Append the bias to each unit's kernel (as kernel smoothness does).
  TORCH_ARG(bool, include_bias) = true;
};

// σe above for spacing Λ and ratio r.
double lateral_centre_sigma(double spacing, double surround);

// The row-normalised Gaussian mean along one side of n cells: float64 [n, n], M[i][j] =
// g_σ(i − j) / Σ_j g_σ(i − j), taps beyond 4σ dropped.
torch::Tensor gaussian_mean_matrix(int64_t cells, double sigma);

// S above for grids of vectors x [G, D, H, W] (normalised here per cell over D) → scalar in
// x's dtype, differentiable.
torch::Tensor lateral_interaction_similarity(const torch::Tensor& x, double spacing,
                                             double surround);

class LateralInteractionLossImpl : public TopographicLossImpl {
 public:
  explicit LateralInteractionLossImpl(LateralInteractionLossOptions options = {});
  bool needs_responses() const override { return false; }
  torch::Tensor forward(const TopographicLayer& layer) override;

 private:
  LateralInteractionLossOptions options_;
};
TORCH_MODULE(LateralInteractionLoss);

}  // namespace nosharing
