// The mean cosine similarity of neighbouring units' kernels as one fused autograd function:
// the measure behind the kernel smoothness loss (All-TNN, Lu et al. 2023; DESIGN §4) and the
// "kernel similarity" of `nosharing info`. With v_u = [w_u; b_u] the kernel and bias of unit u,
//   S = Σ_(u,v) a_uv · cos(v_u, v_v),   cos(x, y) = x·y / (max(‖x‖, ε) · max(‖y‖, ε)), ε = 1e-12,
// over the "down" and "right" neighbour pairs of Sheet::grids(), a_uv = 1 / (directions present
// · pairs in the pair's direction): the mean over directions of the mean over their pairs.
//
// Why fused: the plain LibTorch form (kernel_smoothness.h, mean_neighbour_cosine_reference)
// makes some 25 full-size passes over the layer's weights per step (permute, normalise, gather
// to the grid, products per direction and their backward); this reads the weights three times
// (norms, each pair's dot once, the backward's one pass per row over a row and its neighbours)
// and writes the gradient once, in the weight's own [P, C, D] layout.
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "nosharing/core/sheet.h"

namespace nosharing {

// The neighbour pairs of a sheet's C·P units as rows of a layer weight [P, C, D] (unit
// u = c·P + p of the sheet is row r = p·C + c), in CSR form: row r's neighbours are
// neighbours[offsets[r] … offsets[r+1]) with their pair weights a_uv (each pair listed at both
// of its rows; mirrors[j] is the entry of the same pair at the other row).
struct NeighbourPairs {
  torch::Tensor offsets;     // int64 [R + 1]
  torch::Tensor neighbours;  // int64 [2·pairs]
  torch::Tensor mirrors;     // int64 [2·pairs]
  torch::Tensor weights;     // float64 [2·pairs]: a_uv
  int64_t pairs = 0;         // 0: a sheet of one unit (S is then 1)
};

NeighbourPairs neighbour_pairs(const Sheet& sheet, int64_t positions, int64_t channels);

// S above: weight [P, C, D], bias [P, C] or undefined (then v_u = w_u), float32 or float64 on
// the CPU; a scalar tensor in the weight's dtype, differentiable in weight and bias (first
// order). 1 when there are no pairs.
torch::Tensor neighbour_cosine(const torch::Tensor& weight, const torch::Tensor& bias,
                               const NeighbourPairs& pairs);

// The same S as a double, outside autograd, with scale · ∂S/∂weight added into grad_weight
// and, for a defined bias, scale · ∂S/∂bias into grad_bias (contiguous, the shapes and dtype
// of weight and bias): the training step's fused path (TopographicLossImpl::add_gradients).
double neighbour_cosine_add_gradients(const torch::Tensor& weight, const torch::Tensor& bias,
                                      const NeighbourPairs& pairs, double scale,
                                      const torch::Tensor& grad_weight,
                                      const torch::Tensor& grad_bias);

}  // namespace nosharing
