// Wiring cost (the seed model, DESIGN §3/§4) on a conv-shaped layer's connection weights:
//   C = 1/L · Σ_i Σ_j |w_ij| · √(1 + d_ij²),
// i the L = P positions' units (all C output channels), j the inputs a unit connects to, and
// d_ij the distance from the unit's position to input j. In a conv-shaped layer input
// (c_in, ky, kx) of a position sits at kernel offset (ky − (k−1)/2, kx − (k−1)/2) from the
// receptive-field centre, in input pixels; dividing by the stride measures it in the
// layer's own grid units (the sheet's positions), so d_j = ‖offset‖ / stride, the same for
// every position. Long connections cost more; biases are not connections and are free.
// (The seed's form has a mean over the batch because it prices attention maps; weights do
// not depend on the batch.) No paper weight: ours is 1e-4 (lc1 of fmnist-lc starts near
// C ≈ 100, so the weighted term is ≈ 0.01 against a task loss ≈ 2).
#pragma once

#include <torch/nn/pimpl.h>

#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

// √(1 + d_j²) for j over (c_in, ky, kx): float64 [in_channels·k·k].
torch::Tensor wiring_length_factors(int64_t in_channels, int64_t kernel, int64_t stride);

// C = (1/P) Σ_{p,c,j} factors_j · |weight_pcj| for weight [P, C, D] and factors [D]: a fused
// CPU kernel (one pass over the weights forward, one writing the gradient backward) and the
// plain LibTorch expression it is tested against.
torch::Tensor wiring_cost(const torch::Tensor& weight, const torch::Tensor& factors);
// The same cost as a double, outside autograd, with scale · ∂cost/∂weight added into
// grad_weight (contiguous, weight's shape and dtype), in one pass: the training step's fused
// path (TopographicLossImpl::add_gradients).
double wiring_cost_add_gradients(const torch::Tensor& weight, const torch::Tensor& factors,
                                 double scale, const torch::Tensor& grad_weight);
torch::Tensor wiring_cost_reference(const torch::Tensor& weight, const torch::Tensor& factors);

// The same cost on attention maps (DESIGN §3, the seed's form; the Mapformer's auxiliary
// loss, its weight λ applied by the caller):
//   C = mean_b (1/L) Σ_i Σ_j |A_bij| · √(1 + d_ij²),
// attention A [B, L, L] (row i: how much column i reads column j), d_ij the grid distance
// between columns i and j. The length factor lengths [L, L] = √(1 + d²) comes from
// attention_wiring_lengths. For row-stochastic maps (softmax rows) C ≥ 1, with equality
// exactly for self-attention (A = I); reading a column at distance d instead of itself costs
// √(1 + d²) − 1 more, so C grows with distance.
torch::Tensor attention_wiring_lengths(int64_t height, int64_t width);  // float64 [L, L]
torch::Tensor attention_wiring_cost(const torch::Tensor& attention, const torch::Tensor& lengths);

class WiringLossImpl : public TopographicLossImpl {
 public:
  bool needs_responses() const override { return false; }
  torch::Tensor forward(const TopographicLayer& layer) override;
  bool adds_gradients() const override { return true; }
  double add_gradients(const TopographicLayer& layer, double scale,
                       const torch::Tensor& grad_weight, const torch::Tensor& grad_bias) override;
};
TORCH_MODULE(WiringLoss);

}  // namespace nosharing
