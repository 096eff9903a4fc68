// `wlsc` — sparse coding on a sheet (DESIGN §2; Huml, Tasissa & Ba 2024, "Clustering
// Inductive Biases with Unrolled Networks", arXiv 2402.10213, seed 004). The paper published
// no code; every choice below is ours and docs/wlsc.md lists them.
//
// An unrolled sparse-coding autoencoder over whitened patches y ∈ R^D (D = C·H·W):
//   dictionary  A [D, N], atoms a_j (columns) of unit norm, unit j at (j / √N, j % √N) on a
//               √N×√N sheet. A = V / ‖V‖_col: the norm constraint is a reparameterisation
//               of the free parameter V [D, N], so any optimiser keeps it exactly and no
//               projection step is needed after the optimiser step.
//   encoder     x⁰ = 0, T steps (`wlsc.steps`) of
//               ISTA:  x^{k+1} = S_{ηλ}(x^k − η ∇_x f(x^k)),
//                      f(x) = ½‖y − Ax‖² + β (R_x(x) if "codes") + β (R_B(y, A, x) if
//                      "bipartite"),  ∇f = −Aᵀ(y − Ax) + 2βLx + β(‖y − a_j‖²)_j;
//               η = s_k / L_f with L_f = ‖A‖₂² + 2β·λ_max(L) (the 2β·λ_max term only with
//               "codes"; the bipartite term is linear in x), recomputed from the current A
//               at every forward pass (an exact SVD, D and N are small; gradients flow
//               through it too), and s_k:
//                 step_size = "fixed":            s_k = wlsc.step_scale (≤ 1: the objective
//                                                 never increases, Beck & Teboulle 2009)
//                 step_size = "learned":          s_k = exp(θ), one learned θ (init 0)
//                 step_size = "learned_per_step": s_k = exp(θ_k), T learned θ_k (init 0)
//               FISTA (Beck & Teboulle 2009, "A fast iterative shrinkage-thresholding
//               algorithm"): the same step taken at an extrapolated point,
//                      x^{k+1} = S_{ηλ}(z^k − η ∇f(z^k)),  t_{k+1} = (1 + √(1 + 4t_k²))/2,
//                      z^{k+1} = x^{k+1} + ((t_k − 1)/t_{k+1})(x^{k+1} − x^k),  z⁰ = x⁰, t₀ = 1:
//               the same minimiser, reached at F(x^k) − F* ≤ 2L‖x⁰ − x*‖²/(k+1)² against
//               ISTA's L‖x⁰ − x*‖²/(2k) (their Theorems 3.1 and 4.4). At 1024 atoms the
//               step 1/L is small (L ≈ ‖A‖² + 2βλ_max ≈ 20) and 30 ISTA steps stop far
//               from the minimiser, so the dictionary learns from unconverged codes;
//               each call starts the momentum afresh (t₀ = 1). Not monotone.
//               LISTA (Gregor & LeCun 2010): x^{k+1} = S_θ(W_e y + S x^k) with learned
//               W_e [N, D], S [N, N], θ [N] shared by the T steps, initialised to the ISTA
//               step at the initial A (W_e = ηAᵀ, S = I − η(AᵀA + 2βL), θ = ηλ; the
//               bipartite term is left to training). LISTA has no descent guarantee.
//               S_θ is the soft threshold sign(v)·max(|v| − θ, 0), or max(v − θ, 0) with
//               `wlsc.nonnegative` (required by the bipartite form).
//   loss        mean over the batch of ½‖y − Ax‖² + λ‖x‖₁ + β·(R_A(A) + R_x(x) + R_B(y, A, x))
//               with only the forms listed in `wlsc.laplacian` (see sheet_laplacian.h; R_A
//               does not depend on the batch and is added once).
//   gradient    `wlsc.gradient = "unrolled"`: through the T encoder steps (the unrolled
//               autoencoder view); "fixed_codes": codes treated as constants (the classical
//               alternating dictionary update of Olshausen & Field; ISTA or FISTA).
#pragma once

#include <torch/arg.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/models/model.h"
#include "nosharing/models/sheet_laplacian.h"

namespace nosharing {

enum class WlscEncoder { kIsta, kFista, kLista };
enum class WlscStepSize { kFixed, kLearned, kLearnedPerStep };
enum class WlscGradient { kUnrolled, kFixedCodes };

struct WlscOptions {
  WlscOptions(int64_t patch_dim, int64_t atoms);

  // Reads the wlsc.* keys; patch_dim = C·H·W of `input`. UsageError naming the key for a
  // non-square atom count, an unknown Laplacian form, bipartite without non-negative codes,
  // LISTA with a learned step size or fixed_codes, or a non-positive λ, steps, step scale.
  static WlscOptions from_config(const Config& config, const InputShape& input);

  TORCH_ARG(int64_t, patch_dim);  // D
  TORCH_ARG(int64_t, atoms);      // N, a perfect square
  TORCH_ARG(int64_t, steps) = 30;  // T
  TORCH_ARG(WlscEncoder, encoder) = WlscEncoder::kIsta;
  TORCH_ARG(WlscStepSize, step_size) = WlscStepSize::kFixed;
  TORCH_ARG(double, step_scale) = 1.0;  // fixed step: η = step_scale / L_f
  TORCH_ARG(double, lambda) = 0.1;
  TORCH_ARG(double, beta) = 0.0;
  TORCH_ARG(bool, atoms_form) = false;      // R_A in the loss
  TORCH_ARG(bool, codes_form) = false;      // R_x in the loss and the encoder
  TORCH_ARG(bool, bipartite_form) = false;  // R_B in the loss and the encoder
  TORCH_ARG(bool, nonnegative) = false;
  TORCH_ARG(double, radius) = 1.5;  // sheet neighbourhood (grid units): 8 neighbours
  TORCH_ARG(double, sigma) = 1.0;   // W_ij = exp(−d²/2σ²)
  TORCH_ARG(WlscGradient, gradient) = WlscGradient::kUnrolled;
};

// The terms of the loss for one batch, each averaged over the batch, unweighted by β.
struct WlscTerms {
  torch::Tensor reconstruction;  // mean ½‖y − Ax‖²
  torch::Tensor l1;              // mean ‖x‖₁
  torch::Tensor atoms;           // R_A (undefined unless the form is on)
  torch::Tensor codes;           // mean R_x
  torch::Tensor bipartite;       // mean R_B
};

class WlscImpl : public ModelImpl {
 public:
  explicit WlscImpl(WlscOptions options);

  // images [B, C, H, W] with C·H·W = D → codes x [B, N] after T encoder steps.
  torch::Tensor forward(torch::Tensor images) override;
  bool has_own_objective() const override { return true; }
  // Total = task + β·(forms); task = reconstruction + λ·l1. Terms: "recon", "sparsity"
  // (λ‖x‖₁), "laplacian/<form>" (β·R), "active" (fraction of non-zero codes, a diagnostic).
  ModelObjective own_objective(const torch::Tensor& images) override;

  // The same objective with `weight` (V [D, N]) in place of the model's dictionary
  // parameter: what the float64 gradient check differentiates.
  ModelObjective objective(const torch::Tensor& weight, const torch::Tensor& images);

  // A [D, N] with unit-norm columns (differentiable in V).
  torch::Tensor dictionary() const;
  static torch::Tensor unit_atoms(const torch::Tensor& weight);
  // codes [B, N] for data y [B, D] with dictionary A [D, N]: `steps` encoder steps (−1: T)
  // from `initial` codes (undefined: zeros).
  torch::Tensor encode(const torch::Tensor& data, const torch::Tensor& dictionary,
                       const torch::Tensor& initial = {}, int64_t steps = -1);
  // ISTA's Lipschitz constant ‖A‖₂² + 2β·λ_max(L) ("codes" form on) for A [D, N], as a
  // scalar tensor differentiable in A (the step η = s/L is part of the unrolled function).
  torch::Tensor lipschitz(const torch::Tensor& dictionary) const;
  // The per-sample function the ISTA encoder minimises over x, [B]:
  // ½‖y − Ax‖² + λ‖x‖₁ + β(R_x + R_B) (only the forms that are on), plus +∞ where a
  // non-negative model has a negative code.
  torch::Tensor code_objective(const torch::Tensor& data, const torch::Tensor& dictionary,
                               const torch::Tensor& codes) const;
  WlscTerms terms(const torch::Tensor& data, const torch::Tensor& dictionary,
                  const torch::Tensor& codes) const;

  const WlscOptions& options() const { return options_; }
  int64_t sheet_side() const { return side_; }
  const torch::Tensor& laplacian() const { return laplacian_; }
  double laplacian_max() const { return laplacian_max_; }

 private:
  torch::Tensor step_scale(int64_t step) const;  // s_k as a scalar tensor
  torch::Tensor shrink(const torch::Tensor& values, const torch::Tensor& threshold) const;

  WlscOptions options_;
  int64_t side_ = 0;
  double laplacian_max_ = 0;
  torch::Tensor weight_;  // V [D, N]
  torch::Tensor laplacian_;  // buffer L [N, N]
  // L as a stencil on the sheet (not a buffer: derived from the options, so checkpoints are
  // unchanged): the encoder's and the loss's L·x (sheet_laplacian.h).
  SheetStencil stencil_;
  torch::Tensor log_steps_;  // θ [1] or [T] (learned step sizes)
  torch::Tensor encoder_weight_, lateral_, threshold_;  // LISTA: W_e [N, D], S [N, N], θ [N]
};

TORCH_MODULE(Wlsc);

}  // namespace nosharing
