// Sinusoidal gratings for orientation tuning (DESIGN §5): every combination of orientation,
// phase and spatial frequency, at a model's input size and channels.
//
// Convention (used by every orientation measure here): image coordinates with x to the
// right and y downwards, pixel (y, x) at its integer index; a grating of orientation θ,
// period λ (pixels) and phase φ is
//   g(y, x) = contrast · sin(2π (x cos θ + y sin θ) / λ + φ),
// identical in every channel. θ is the direction of the wave vector, in [0, π): stripes run
// perpendicular to it. Images are in the model's normalised input units (the data were
// normalised to zero mean and unit standard deviation per channel), so contrast 1 spans
// about one standard deviation of natural inputs.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nosharing {

struct GratingOptions {
  int64_t orientations = 16;                            // θ_o = o·π/orientations
  int64_t phases = 4;                                   // φ_p = p·2π/phases
  std::vector<double> periods = {3.0, 5.0, 8.0, 12.0};  // λ in pixels
  double contrast = 1.0;
};

struct Gratings {
  torch::Tensor images;       // float32 [S, C, H, W], S = orientations·phases·periods
  torch::Tensor orientation;  // int64 [S], index o of θ_o
  torch::Tensor angles;       // float64 [orientations], θ_o in radians
};

// Throws a UsageError for fewer than 2 orientations, no phase, no period, a period ≤ 0 or
// a non-positive image size.
Gratings make_gratings(int64_t channels, int64_t height, int64_t width,
                       const GratingOptions& options = {});

}  // namespace nosharing
