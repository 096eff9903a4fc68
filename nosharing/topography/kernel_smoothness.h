// Kernel smoothness loss (All-TNN, Lu et al. 2023, DESIGN §4): neighbouring units on the sheet
// should have similar kernels. With v_u = normalize([w_u; b_u]) the incoming weights and bias
// of unit u,
//   S = ½ (mean_u cos(v_u, v_down(u)) + mean_u cos(v_u, v_right(u))),   L = (1 − S) / 2,
// neighbours taken on Sheet::grids() (the hypercolumn sheet itself; in the column and
// retinotopic layouts the same channel at the adjacent position). A grid one unit tall (or
// wide) has no down (right) pairs: S is then the mean of the direction that exists, and a
// single unit gives S = 1. L is 0 exactly when neighbouring kernels are parallel.
// Paper weights α ∈ {1, 10, 100} (main 10).
//
// Optional coverage term (ours; `topography.coverage` γ, default 0): smoothness alone has no
// length scale, so a map coarsens until one domain spans the sheet. Dimension-reduction
// models of cortical maps balance continuity against coverage — every patch of cortex must
// represent every feature (Durbin & Mitchison 1990; Swindale 1996) — and that balance sets the
// column spacing. Here a position's channels should differ:
//   C = mean_p mean_{c ≠ c'} cos²(v_pc, v_pc'),    L = (1 − S)/2 + γ·C,
// which on hypercolumn sheets (a position is a √C×√C block) asks each block to hold diverse
// kernels while neighbouring units stay alike.
#pragma once

#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <tuple>

#include "nosharing/topography/cpu/kernel_smoothness_function.h"
#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct KernelSmoothnessLossOptions {
  // Append the bias to each unit's kernel (All-TNN does).
  TORCH_ARG(bool, include_bias) = true;
  // γ of the coverage term (0: off).
  TORCH_ARG(double, coverage) = 0.0;
};

// C above: weight [P, C, D] (+ bias [P, C]) → scalar in weight's dtype, differentiable; 0 for
// one channel.
torch::Tensor channel_coverage(const torch::Tensor& weight, const torch::Tensor& bias);

// S above, the mean neighbour-kernel cosine similarity of a layer: scalar tensor in the
// dtype of layer.weight. The fused function of cpu/kernel_smoothness_function.h.
torch::Tensor mean_neighbour_cosine(const TopographicLayer& layer, bool include_bias = true);
// The same S in plain LibTorch ops (normalise, lay out on the grids, products per direction):
// the check of the fused one (kernel_smoothness_test.cc).
torch::Tensor mean_neighbour_cosine_reference(const TopographicLayer& layer,
                                              bool include_bias = true);

class KernelSmoothnessLossImpl : public TopographicLossImpl {
 public:
  explicit KernelSmoothnessLossImpl(KernelSmoothnessLossOptions options = {})
      : options_(options) {}
  bool needs_responses() const override { return false; }
  torch::Tensor forward(const TopographicLayer& layer) override;
  bool adds_gradients() const override { return true; }
  double add_gradients(const TopographicLayer& layer, double scale,
                       const torch::Tensor& grad_weight, const torch::Tensor& grad_bias) override;

 private:
  const NeighbourPairs& pairs_of(const TopographicLayer& layer);
  KernelSmoothnessLossOptions options_;
  // Neighbour pairs per layer (name, positions, channels).
  std::map<std::tuple<std::string, int64_t, int64_t>, NeighbourPairs> pairs_;
};
TORCH_MODULE(KernelSmoothnessLoss);

}  // namespace nosharing
