// TopoLoss's similarity as one fused autograd function (Deb et al. 2025; DESIGN §4;
// topoloss.h defines the loss): over the cells of a sheet's grids, the mean cosine between a
// unit's kernel and the blurred grid of kernels there,
//   S = mean_cells cos(G_cell, Ĝ_cell),   Ĝ = U_y U_x (D_y D_x G),
// where D (down to max(1, ⌊side/f⌋)) and U (back up) are the 1-D bilinear resampling matrices
// of F::interpolate (align_corners = false), read off by interpolating identity matrices, so
// Ĝ is topoloss_blur's. Each row of D and U has at most two taps, so the kernel reads the
// layer's weights where they lie ([P, C, D], no gather to the grid and no permuted copy), keeps
// only the small down-sampled grid, and writes the gradient once in the weight's layout.
#pragma once

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "nosharing/core/sheet.h"

namespace nosharing {

// A 1-D resampling matrix M [out, in] as its non-zero taps, by rows and by columns.
struct ResamplingTaps {
  int64_t out = 0, in = 0;
  std::vector<std::vector<std::pair<int64_t, double>>> rows;     // out → (in, M[out][in])
  std::vector<std::vector<std::pair<int64_t, double>>> columns;  // in → (out, M[out][in])
};

// The bilinear (align_corners = false) resampling of a side from `in` to `out` cells.
ResamplingTaps bilinear_taps(int64_t in, int64_t out);

// The blurred grid at one cell as four rows of the down-sampled grid L:
// Ĝ_cell = Σ_t weight[t]·L[low[t]]. Bilinear up-sampling reads at most 2 × 2 cells; a cell with
// fewer taps (at a border, or a side down-sampled to one cell) points the rest at distinct
// all-zero padding rows after L with weight 0, so every cell runs the same four-row loop and its
// four rows never alias.
struct BlurTaps {
  std::array<int64_t, 4> low{};
  std::array<double, 4> weight{};
};

struct BlurredCosineGeometry {
  int64_t grids = 0, height = 0, width = 0;  // the grids [G, H, W]
  std::vector<int64_t> rows;                 // [G·H·W]: the weight row p·C + c of each cell
  std::vector<int64_t> cells_of_rows;        // [P·C]: the cell of each weight row (rows⁻¹)
  std::vector<BlurTaps> taps;                // [P·C]: Ĝ at each weight row's cell
  ResamplingTaps down_y, down_x, up_y, up_x;

  int64_t cells() const { return grids * height * width; }
  int64_t low_rows() const { return grids * down_y.out * down_x.out; }  // L's cells
};

// The zero rows after L that BlurTaps's missing taps point at.
constexpr int64_t kPaddingRows = 3;

// The grids of `sheet` (Sheet::grids(): every unit in exactly one cell) over a layer of
// `positions` × `channels` units, with blur factor `factor` ≥ 1.
BlurredCosineGeometry blurred_cosine_geometry(const Sheet& sheet, int64_t positions,
                                              int64_t channels, double factor);

// S above: weight [P, C, D] float32 or float64 on the CPU (the kernels, no bias) → scalar
// tensor of its dtype, differentiable in weight (first order). Cosines use F.normalize's
// floor: cos(x, y) = x·y / (max(‖x‖, ε)·max(‖y‖, ε)), ε = 1e-12.
torch::Tensor blurred_cosine(const torch::Tensor& weight,
                             std::shared_ptr<const BlurredCosineGeometry> geometry);

// The same S as a double, outside autograd, with scale · ∂S/∂weight added into grad_weight
// (contiguous, weight's shape and dtype): the training step's fused path
// (TopographicLossImpl::add_gradients).
double blurred_cosine_add_gradients(const torch::Tensor& weight,
                                    const BlurredCosineGeometry& geometry, double scale,
                                    const torch::Tensor& grad_weight);

}  // namespace nosharing
