// Pinwheels of an orientation map on a grid (DESIGN §5; Kaschube et al. 2010).
//
// 1. Smooth: the doubled-angle field z = e^{2iθ} is convolved with a Gaussian of
//    `smoothing_sigma` grid cells (normalised by the convolved mask at the edges and at NaN
//    cells), and θ = arg(z)/2 taken again.
// 2. Winding: around every plaquette (the square of four neighbouring cells) the wrapped
//    steps of 2θ sum to 2π·w with w an integer; |w| = 1 (θ turns by ±½ turn) marks one
//    pinwheel inside it, at the plaquette centre. A plaquette touching a NaN cell has w = 0.
// 3. Column spacing Λ from the spectrum of the map as given (analysis/map_spectrum.h).
// 4. Border rule: pinwheels are counted only at least `margin_periods`·Λ (default ½ Λ) from
//    every edge of the map, where the smoothing and the border's missing neighbours no
//    longer bias them; density = count · Λ² / (area of that inner rectangle). No Λ, or a
//    map whose shorter side spans fewer than `min_periods` Λ: the density is NaN (JSON null).
// Planted truth: an isotropic Gaussian random field map has π pinwheels per Λ² (Wolf &
// Geisel 1998); analysis/random_orientation_map.h makes them and the tests count them.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "nosharing/analysis/map_spectrum.h"

namespace nosharing {

struct PinwheelOptions {
  double smoothing_sigma = 1.0;  // grid cells; 0: no smoothing
  double min_periods = 2.0;      // map's shorter side / Λ needed for a density
  double margin_periods = 0.5;   // border left out of the count, in Λ
  SpacingOptions spacing;
};

struct Pinwheel {
  double y = 0, x = 0;  // plaquette centre, grid cells
  int sign = 0;         // +1 or −1: θ turns by +½ or −½ turn going clockwise (y drawn down)
  bool counted = true;  // false inside the border margin
};

struct PinwheelResult {
  std::vector<Pinwheel> pinwheels;  // every plaquette with |w| = 1, counted or not
  torch::Tensor winding;            // int64 [H − 1, W − 1]: w per plaquette
  torch::Tensor smoothed;           // float64 [H, W]: the smoothed map, radians in [0, π)
  RadialSpectrum spectrum;          // of the map as given (not smoothed)
  double period = 0;                // Λ in grid cells (NaN: no ring in the spectrum)
  double peak_ratio = 0;            // the spectrum's peak over its median (map_spectrum.h)
  double peak_period = 0;           // ColumnSpacing::peak_period, grid cells
  double margin = 0;                // border left out, grid cells
  int64_t counted = 0;              // pinwheels inside the margin
  double density = 0;               // counted · Λ² / inner area; NaN where undefined
  int64_t count() const { return static_cast<int64_t>(pinwheels.size()); }
};

// theta [H, W], radians (any range; orientation is taken mod π); NaN = no unit. weight
// [H, W] (optional, e.g. selectivity |R|): smoothing and the spectrum use the polar map
// weight·e^{2iθ}, so weakly tuned units, whose preference is mostly noise, count little.
PinwheelResult find_pinwheels(const torch::Tensor& theta, const PinwheelOptions& options = {},
                              const torch::Tensor& weight = {});

// Λ of an orientation map theta [H, W] in grid cells; NaN when its spectrum has no ring.
double orientation_map_period(const torch::Tensor& theta, const SpacingOptions& options = {});

// Gaussian smoothing of an orientation map via doubled angles (step 1): theta [H, W] →
// [H, W] radians in [0, π); NaN cells stay NaN. weight [H, W] optional, as above.
torch::Tensor smooth_orientation_map(const torch::Tensor& theta, double sigma,
                                     const torch::Tensor& weight = {});

}  // namespace nosharing
