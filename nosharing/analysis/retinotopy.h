// Retinotopy (DESIGN §5): the receptive-field centre of a unit is the centre of mass of
// |∂unit/∂input| over the image (summed over channels and over a few random N(0, 1) inputs,
// so that a unit silent at one input still shows where it looks); its correlation with the
// unit's sheet position says how orderly the map of visual space is. In an LC stack it is
// wired in (≈ 1, a sanity check); attention (the Mapformer) can move receptive fields.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace nosharing {

// images float32 [B, C, H, W] → the layer's units [B, U] (differentiable w.r.t. images;
// batch elements independent, e.g. a model in eval mode).
using UnitFunction = std::function<torch::Tensor(const torch::Tensor& images)>;

struct RfOptions {
  int64_t inputs = 4;  // random inputs averaged per unit
  int64_t chunk = 64;  // units differentiated per backward pass
  uint64_t seed = 0;
};

// units int64 [N] (indices into U) → centres float64 [N, 2] as (y, x) in input pixels; NaN
// rows for units whose gradient is 0 at every input.
torch::Tensor rf_centres(const UnitFunction& layer, int64_t channels, int64_t height, int64_t width,
                         const torch::Tensor& units, const RfOptions& options = {});

// Mean over the axes y and x of the Pearson correlation between RF centres [N, 2] and
// sheet positions [N, 2]; rows with a NaN are left out, and an axis along which either
// side is constant is skipped. NaN if no axis is left.
double rf_position_correlation(const torch::Tensor& centres, const torch::Tensor& positions);

}  // namespace nosharing
