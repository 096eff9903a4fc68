// Kernel distance of an unshared layer at a sheet radius (after Ott et al. 2020, who compare
// how similar the kernels of nearby and distant positions become when weight sharing is
// learned). Their paper gives no formula; ours:
//   D(r) = mean over position pairs (i, j) at Chebyshev distance exactly r on the grid and
//          over output channels c of ‖w_{i,c} − w_{j,c}‖₂,  divided by the root mean square
//          ‖w_{i,c}‖₂ over all positions and channels,
// so 0 means identical kernels (shared) and √2 unrelated kernels of equal norm. Reported at
// r = 1 and r = 4: D(1) < D(4) means nearby kernels are more alike (a smooth map of kernels).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

// weight [P, C_out, F] with P = height·width positions in row-major order (as
// LocallyConnected2d). NaN when no pair lies at distance r (r ≥ the sheet side).
double kernel_distance(const torch::Tensor& weight, int64_t height, int64_t width, int64_t radius);

}  // namespace nosharing
