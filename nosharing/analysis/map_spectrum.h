// The radial power spectrum of an orientation map and the column spacing Λ read from its
// ring (DESIGN §5; Kaschube et al. 2010 use the same ring, All-TNN draws the spectrum).
//
// The map is taken as the doubled-angle field z = e^{2iθ} (or w·e^{2iθ}) on its grid (NaN cells: z = 0), the
// mean removed; |FFT(z)|² is averaged over rings of width 1/max(H, W) cycles per cell.
// Λ = 1/f̄, f̄ the power-weighted mean frequency over the contiguous bins around the peak
// whose power is at least half the peak's (sub-bin precision: a ring between two bins).
// A map has a Λ only when its spectrum has a ring: the peak at least
// `SpacingOptions::min_peak_ratio` times the median of the non-DC bins. White noise (a
// salt-and-pepper map) has a flat spectrum, ratio ≈ 1, and no Λ; nor has a map whose peak is
// the lowest non-DC bin (one cycle across the map: a trend, e.g. a bias towards one
// orientation near the image border, not columns).
#pragma once

#include <torch/types.h>

#include <vector>

namespace nosharing {

struct RadialSpectrum {
  std::vector<double> frequency;  // [bins] cycles per grid cell, bin centres (bin 0 = DC)
  std::vector<double> power;      // [bins] mean |FFT(z)|² over the ring, normalised to sum 1
};

struct SpacingOptions {
  double min_peak_ratio = 3.0;
};

struct ColumnSpacing {
  double period = 0;      // Λ in grid cells; NaN when the spectrum has no ring
  double peak_ratio = 0;  // peak power / median non-DC power
  // 1 / (the peak's frequency) whenever the peak clears min_peak_ratio, also when it is the
  // lowest bin (then `period` is NaN: the map spans about one such cycle, too few for a Λ).
  double peak_period = 0;
};

// theta [H, W] radians (mod π); NaN cells carry no orientation. weight [H, W] (optional,
// e.g. the selectivity |R|): the field is weight·e^{2iθ}, the polar map of optical imaging,
// in which weakly tuned units count little.
RadialSpectrum orientation_spectrum(const torch::Tensor& theta,
                                    const torch::Tensor& weight = {});

ColumnSpacing column_spacing(const RadialSpectrum& spectrum, const SpacingOptions& options = {});

}  // namespace nosharing
