// Pinwheels of an orientation map on a grid (DESIGN §5; Kaschube et al. 2010).
//
// 1. Smooth: the doubled-angle field z = e^{2iθ} is convolved with a Gaussian of
//    `smoothing_sigma` grid units (normalised by the convolved mask at the edges), and
//    θ = arg(z)/2 taken again.
// 2. Winding: around every interior vertex the preferred angle is followed over its 8-ring
//    (the eight neighbours, in order); the wrapped steps of 2θ sum to 2π·w with w an integer.
//    A ring encloses a pinwheel when |w| = 1, i.e. θ turns by ±½ turn (±180°).
// 3. Pinwheels are the 8-connected blobs of vertices with w = +1, and separately with w = −1
//    (a pinwheel between four vertices is enclosed by the rings of all four).
// 4. Column spacing Λ: the radially averaged power spectrum of z (mean removed) peaks at
//    spatial frequency f* (cycles per grid unit); Λ = 1/f*. Density = count · Λ² / area.
//    The density is only meaningful when the sheet spans several Λ: below
//    `min_periods` periods along its shorter side it is reported as NaN (JSON null).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nosharing {

struct PinwheelOptions {
  double smoothing_sigma = 1.0;  // grid units; 0: no smoothing
  double min_periods = 3.0;      // sheet side / Λ needed for a density
};

struct Pinwheel {
  double y = 0, x = 0;  // blob centroid, grid units
  int sign = 0;         // +1 or −1: θ turns by +½ or −½ turn going clockwise (y drawn down)
};

struct PinwheelResult {
  std::vector<Pinwheel> pinwheels;
  torch::Tensor winding;   // int64 [H, W]: w per vertex (0 on the border)
  torch::Tensor smoothed;  // float64 [H, W]: the smoothed map, radians in [0, π)
  double period = 0;       // Λ in grid units (NaN if the spectrum is flat)
  double density = 0;      // pinwheels per Λ²; NaN when the sheet spans < min_periods Λ
  int64_t count() const { return static_cast<int64_t>(pinwheels.size()); }
};

// theta [H, W], radians (any range; orientation is taken mod π).
PinwheelResult find_pinwheels(const torch::Tensor& theta, const PinwheelOptions& options = {});

// Λ of an orientation map theta [H, W] (step 4 above), grid units; NaN for a constant map.
double orientation_map_period(const torch::Tensor& theta);

// Gaussian smoothing of an orientation map via doubled angles (step 1): theta [H, W] →
// [H, W] radians in [0, π).
torch::Tensor smooth_orientation_map(const torch::Tensor& theta, double sigma);

}  // namespace nosharing
