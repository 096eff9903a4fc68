// The spatial correlation loss's fused CPU path (TDANN, Margalit et al. 2024; DESIGN §4;
// spatial_correlation.h defines the loss and holds its plain reference): the loss from the
// units' responses and the similarities of their points as one autograd function with a
// hand-written backward, and those similarities from the points' coordinates.
#pragma once

#include <torch/types.h>

namespace nosharing {

// L = (1 − corr(lower(r), lower(s))) / 2 for responses x [B, N] (batch × units), unit i at point
// points[i] (int64 [N]) of m points whose similarities are S [m, m] (symmetric, in x's dtype):
// s_ij = S[points[i], points[j]]. Differentiable in x; x, S and points contiguous CPU tensors.
torch::Tensor pair_correlation_loss(const torch::Tensor& responses, const torch::Tensor& similarity,
                                    const torch::Tensor& points);

// S_ij = 1/(‖p_i − p_j‖ + 1) from points' coordinates [m, 2] (float64), in `dtype`.
torch::Tensor similarity_from_coordinates(const torch::Tensor& coordinates,
                                          torch::ScalarType dtype);

}  // namespace nosharing
