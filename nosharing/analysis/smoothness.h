// TDANN smoothness of a map over the sheet (DESIGN §5; Margalit et al. 2024): how much more
// alike nearby units are than units at random positions.
//
// Pairs: up to `anchors` units drawn with the seed, each paired with every unit at sheet
// distance 0 < d ≤ d_max (at most `max_pairs_per_anchor` of them, drawn at random). Pairs at
// d = 0 (the channels of one column) are left out. The pairs are binned into `bins` equal
// bins of (0, d_max], and per bin
//   c(d)      = mean |difference| of the pair's values (orientation: wrapped to [0°, 90°]),
//   chance(d) = the same over the same pairs with the values shuffled across units,
//   n(d)      = c(d) / chance(d),
//   s = (max_d n(d) − n(d₁)) / max_d n(d),   d₁ the first non-empty bin:
// 0 for salt-and-pepper maps (n ≡ 1), → 1 for smooth ones.
//
// The range follows the map's own scale, as TDANN does: d_max = (4/3)·Λ·√2/2 (9 bins) for a
// map with column spacing Λ. Binning over the whole sheet instead makes the first bin wider
// than half a column and blinds the index on large sheets (a GRF map of Λ = 12 on 128² cells
// scores 0.06 with 20 bins over the sheet, 0.81 this way). Without a Λ (salt-and-pepper, or a
// scalar map) the range is fixed: `bins` nearest-neighbour spacings, at most half the
// sheet's shorter side; SmoothnessCurve::range_rule says which.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nosharing {

enum class MapDifference {
  kAbsolute,     // |a − b|
  kOrientation,  // orientations in radians, |a − b| wrapped to [0, π/2]
};

struct SmoothnessOptions {
  int64_t bins = 9;
  int64_t anchors = 2000;
  int64_t max_pairs_per_anchor = 1024;
  uint64_t seed = 0;
};

struct SmoothnessRange {
  double max_distance = 0;  // d_max, sheet units
  std::string rule;         // "period": (4/3)·Λ·√2/2; "fixed": `bins` unit spacings
};

// The curve's range for a map of column spacing `period` (sheet units; NaN: none) on a sheet
// with these unit coordinates [U, 2].
SmoothnessRange smoothness_range(double period, const torch::Tensor& coordinates,
                                 const SmoothnessOptions& options = {});

// The median distance from a unit to its nearest unit at a different point (1 on grids).
double unit_spacing(const torch::Tensor& coordinates, uint64_t seed = 0);

// The sampled unit pairs of a sheet within a range, binned; reused for every map of a layer.
struct SheetPairs {
  torch::Tensor first, second;  // int64 [N] unit indices
  torch::Tensor bin;            // int64 [N] in [0, bins)
  std::vector<double> distance;  // [bins] bin centres
  SmoothnessRange range;
};

// coordinates [U, 2]. `group` (int64 [U], optional): pairs only between units of equal group
// (the per-channel smoothness of column sheets: channel c against itself elsewhere).
SheetPairs sample_sheet_pairs(const torch::Tensor& coordinates, const SmoothnessRange& range,
                              const SmoothnessOptions& options = {},
                              const torch::Tensor& group = {});

struct SmoothnessCurve {
  std::vector<double> distance;    // [bins] bin centres, sheet units
  std::vector<double> difference;  // [bins] c(d); NaN for an empty bin
  std::vector<double> chance;      // [bins] shuffled-position chance
  std::vector<double> normalised;  // [bins] n(d) = c(d) / chance(d)
  std::vector<int64_t> pairs;      // [bins] pairs per bin
  double smoothness = 0;           // s; NaN when undefined (no pairs, or c ≡ 0)
  double max_distance = 0;
  std::string range_rule;
};

// values [U] over the units of `pairs`; pairs with a non-finite value are left out.
SmoothnessCurve smoothness_curve(const torch::Tensor& values, const SheetPairs& pairs,
                                 MapDifference difference, uint64_t seed = 0);

// One map on its own: the pairs within `range` (max_distance ≤ 0: the fixed rule) drawn for it.
SmoothnessCurve smoothness_curve(const torch::Tensor& values, const torch::Tensor& coordinates,
                                 MapDifference difference, const SmoothnessOptions& options = {},
                                 SmoothnessRange range = {});

}  // namespace nosharing
