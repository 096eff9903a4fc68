// Planted truth for the map measures: isotropic Gaussian random field (GRF) orientation
// maps (Wolf & Geisel 1998; Kaschube et al. 2010). Complex white noise is band-passed to a
// narrow ring |k| = 1/Λ (a Gaussian in |k| of relative width `bandwidth`, periodic
// boundaries); the preferred orientation is θ = arg(z)/2 and the selectivity |z| / max |z|.
// Such a map has column spacing Λ and π pinwheels per Λ², whatever Λ and the seed: the
// standard test for a pinwheel counter, and a map the docs can draw.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace nosharing {

struct RandomOrientationMapOptions {
  double period = 12.0;     // Λ, grid cells
  double bandwidth = 0.05;  // σ of the ring in |k|, as a fraction of 1/Λ
  uint64_t seed = 0;
};

struct OrientationMap {
  torch::Tensor preferred;    // float64 [H, W], radians in [0, π)
  torch::Tensor selectivity;  // float64 [H, W], in [0, 1]
};

OrientationMap random_orientation_map(int64_t height, int64_t width,
                                      const RandomOrientationMapOptions& options = {});

}  // namespace nosharing
