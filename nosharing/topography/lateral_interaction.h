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
//
// The field (`topography.field`): "kernels" (n_u above: the whole kernel, polarity included)
// or "orientation", each unit's orientation vector from its kernel's power spectrum,
//   z_u = Σ_{f ≠ 0} P_u(f) e^{2iφ_f} / Σ_{f ≠ 0} P_u(f),   P_u(f) = Σ_c |ŵ_uc(f)|²,
// (φ_f the direction of frequency f, the grating convention of analysis/stimuli.h; ŵ the DFT
// of the k×k kernel zero-padded to 2k×2k), not normalised: |z_u| ∈ [0, 1] is how oriented the
// kernel is, arg(z_u)/2 its orientation. Then S = mean_u z_u · (m_σe(z) − m_σi(z))(u) is
// Swindale's (1982) energy of an orientation map: band-pass at Λ, and it grows with |z|, so
// it also asks for oriented kernels. Kernels of opposite polarity have the same z: unlike the
// kernel field, the orientation field cannot meet the surround by flipping phase.
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

enum class InteractionField { kKernels, kOrientation };

// "kernels" | "orientation"; otherwise a UsageError naming topography.field.
InteractionField parse_interaction_field(const std::string& name);

struct LateralInteractionLossOptions {
  // Λ, the column spacing the interaction selects, in sheet cells (> 2: a period needs at
  // least two cells).
  TORCH_ARG(double, spacing) = 12.0;
  // r = σi/σe > 1, the surround's width over the centre's.
  TORCH_ARG(double, surround) = 2.0;
  // Append the bias to each unit's kernel (as kernel smoothness does).
  TORCH_ARG(bool, include_bias) = true;
  // What interacts: the normalised kernels or their orientation vectors (above).
  TORCH_ARG(InteractionField, field) = InteractionField::kKernels;
};

// σe above for spacing Λ and ratio r.
double lateral_centre_sigma(double spacing, double surround);

// The row-normalised Gaussian mean along one side of n cells: float64 [n, n], M[i][j] =
// g_σ(i − j) / Σ_j g_σ(i − j), taps beyond 4σ dropped.
torch::Tensor gaussian_mean_matrix(int64_t cells, double sigma);

// The four Gaussian-mean matrices of a H × W grid (rows and columns, centre and surround),
// in `dtype`: constants of a layer, built once per layer by the loss.
struct MexicanHat {
  torch::Tensor centre_rows, centre_cols, surround_rows, surround_cols;
};
MexicanHat mexican_hat(int64_t height, int64_t width, double spacing, double surround,
                       torch::Dtype dtype);

// mean_u f_u · (m_σe(f) − m_σi(f))(u) for a field f [G, D, H, W] as given → scalar in f's
// dtype, differentiable.
torch::Tensor mexican_hat_energy(const torch::Tensor& field, const MexicanHat& hat);
torch::Tensor mexican_hat_energy(const torch::Tensor& field, double spacing, double surround);

// S above for grids of vectors x [G, D, H, W], normalised here per cell over D.
torch::Tensor lateral_interaction_similarity(const torch::Tensor& x, double spacing,
                                             double surround);

// z above: weight [P, C, C_in·k·k] (the locally connected layout, D ordered (c_in, ky, kx))
// → [U, 2] = (Re z, Im z), units in (c, y, x) order as unit_weight_vectors; differentiable.
// Computed as three quadratic forms of each kernel (lateral_interaction.cc says why): the
// forms, float64 [k², 3k²], depend on k alone.
torch::Tensor kernel_orientation_forms(int64_t kernel);
torch::Tensor kernel_orientation_vectors(const torch::Tensor& weight, int64_t kernel,
                                         const torch::Tensor& forms);
torch::Tensor kernel_orientation_vectors(const torch::Tensor& weight, int64_t kernel);
// The same z as written above: the DFT, its power, the weighted sums. The check of the fast
// form (lateral_interaction_test.cc).
torch::Tensor kernel_orientation_vectors_reference(const torch::Tensor& weight, int64_t kernel);

class LateralInteractionLossImpl : public TopographicLossImpl {
 public:
  explicit LateralInteractionLossImpl(LateralInteractionLossOptions options = {});
  bool needs_responses() const override { return false; }
  torch::Tensor forward(const TopographicLayer& layer) override;

 private:
  // The constants of one layer: its grids' Mexican hat and its kernels' orientation forms.
  struct LayerConstants {
    MexicanHat hat;
    torch::Tensor forms;  // undefined for the kernel field
  };
  const LayerConstants& constants_of(const TopographicLayer& layer, int64_t height, int64_t width);
  LateralInteractionLossOptions options_;
  std::map<std::tuple<std::string, int64_t, int64_t, int64_t, int>, LayerConstants> constants_;
};
TORCH_MODULE(LateralInteractionLoss);

}  // namespace nosharing
