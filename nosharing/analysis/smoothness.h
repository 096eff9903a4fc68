// TDANN smoothness of a map over the sheet (DESIGN §5; Margalit et al. 2024): how much more
// alike nearby units are than distant ones.
//
// Unit pairs at sheet distance d > 0 (pairs at the same point, e.g. the channels of one
// column, are left out) are binned into `bins` equal bins of (0, d_max]; per bin
//   c(d) = mean |difference| of the pair's values
// (orientation: wrapped to [0°, 90°]; otherwise the absolute difference), and
//   s = (max_d c(d) − c(d₁)) / max_d c(d),  d₁ the first non-empty bin:
// 0 for salt-and-pepper maps (no distance dependence), → 1 for smooth ones.
// Large sheets are measured on a seeded random subset of units (all pairs among them).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace nosharing {

enum class MapDifference {
  kAbsolute,     // |a − b|
  kOrientation,  // orientations in radians, |a − b| wrapped to [0, π/2]
};

struct SmoothnessOptions {
  int64_t bins = 20;
  // Units beyond this many are subsampled (pairs grow as the square).
  int64_t max_units = 2000;
  // d_max; 0: the largest distance among the measured pairs.
  double max_distance = 0.0;
  uint64_t seed = 0;
};

struct SmoothnessCurve {
  std::vector<double> distance;    // [bins] bin centres
  std::vector<double> difference;  // [bins] c(d); NaN for an empty bin
  std::vector<int64_t> pairs;      // [bins] pairs per bin
  double smoothness = 0;           // s; NaN when undefined (no pairs, or c ≡ 0)
};

// values [U], coordinates [U, 2] (sheet (y, x)). Units with a non-finite value are left out.
SmoothnessCurve smoothness_curve(const torch::Tensor& values, const torch::Tensor& coordinates,
                                 MapDifference difference, const SmoothnessOptions& options = {});

}  // namespace nosharing
