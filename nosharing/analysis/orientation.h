// Orientation preference and selectivity of units from their grating responses (DESIGN §5).
//
// Per unit, r_θ = its largest response to any grating of orientation θ (max over phase and
// spatial frequency; negative responses count as 0, as after a ReLU). With doubled angles,
// since orientation is periodic in π:
//   R = Σ_θ r_θ e^{2iθ} / Σ_θ r_θ,   preferred orientation = arg(R)/2 ∈ [0, π),
//   selectivity = |R| ∈ [0, 1]  (= 1 − circular variance; Ringach et al. 2002).
// A unit silent for every grating has selectivity 0 and preferred orientation 0.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

// responses [S, U] (S stimuli), orientation int64 [S] (index into the orientations)
// → r_θ, float64 [O, U]: the max response over the stimuli of each orientation.
torch::Tensor orientation_tuning(const torch::Tensor& responses, const torch::Tensor& orientation,
                                 int64_t num_orientations);

struct OrientationPreference {
  torch::Tensor preferred;    // float64 [U], radians in [0, π)
  torch::Tensor selectivity;  // float64 [U], |R| in [0, 1]
};

// tuning [O, U] (r_θ), angles float64 [O] (radians) → preference and selectivity.
OrientationPreference orientation_preference(const torch::Tensor& tuning,
                                             const torch::Tensor& angles);

// |a − b| of orientations (radians, any range) wrapped to [0, π/2]; elementwise.
torch::Tensor orientation_difference(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace nosharing
