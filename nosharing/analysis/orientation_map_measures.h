// Every measure of one cortical orientation map (DESIGN §5; issue "Maps you can trust"), the
// TDANN suite (chance-normalised smoothness, fraction of orientation-selective units,
// pinwheel density) and the All-TNN suite (cluster size, local entropy, radial spectrum),
// from a grid map. `nosharing measure-map` measures a map given as an array with it; a
// network layer's analysis (analysis/analyze.h) uses the same pieces with its units' own
// sheet coordinates for the smoothness.
#pragma once

#include <torch/types.h>

#include <nlohmann/json.hpp>

#include "nosharing/analysis/orientation_clusters.h"
#include "nosharing/analysis/pinwheels.h"
#include "nosharing/analysis/smoothness.h"

namespace nosharing {

// Orientation-selective: circular variance < 0.6 (TDANN), i.e. selectivity |R| > 0.4.
constexpr double kSelectiveCircularVariance = 0.6;

struct MapMeasureOptions {
  SmoothnessOptions smoothness;
  PinwheelOptions pinwheels;
  ClusterOptions clusters;
};

struct OrientationMapMeasures {
  double cell_size = 1;      // sheet units per grid cell
  PinwheelResult pinwheels;  // Λ (grid cells), spectrum, pinwheels, density
  SmoothnessCurve curve;     // c(d) of preferred orientation, sheet units
  double cluster_size = 0;   // sheet units
  double local_entropy = 0;  // bits
  double selective_fraction = 0;  // NaN without a selectivity map
  double period() const { return pinwheels.period * cell_size; }  // Λ, sheet units
};

// theta [H, W] radians (NaN = no unit); selectivity [H, W] in [0, 1] or undefined; cell_size:
// sheet units per cell (e.g. µm), which scales distances, Λ and cluster size.
// A unit of selectivity ≤ 0 has no preference (a silent unit, a `wlsc` atom without a good
// Gabor fit): its θ may be anything, NaN included. It is left out of the smoothness, the
// cluster size and the entropy, and enters the pinwheel count as a cell of weight 0 in the
// polar map selectivity·e^{2iθ}, which the smoothing fills from its neighbours — as a NaN
// hole it would void the four plaquettes around it (with 30 % such units scattered over
// a sheet, three plaquettes in four).

OrientationMapMeasures measure_orientation_map(const torch::Tensor& theta,
                                               const torch::Tensor& selectivity,
                                               double cell_size,
                                               const MapMeasureOptions& options = {});

// Fraction of the units with selectivity > 1 − kSelectiveCircularVariance (NaN values are
// not units); NaN when there is none.
double selective_fraction(const torch::Tensor& selectivity);

// JSON of a smoothness curve, its differences scaled (e.g. radians → degrees).
nlohmann::json smoothness_curve_json(const SmoothnessCurve& curve, double scale);
// JSON of the radial spectrum, frequencies in cycles per sheet unit.
nlohmann::json spectrum_json(const RadialSpectrum& spectrum, double cell_size);
// Pinwheels as [{"y", "x", "sign", "counted"}] in grid cells.
nlohmann::json pinwheels_json(const PinwheelResult& pinwheels);

// The measure-map JSON: {"height", "width", "cell_size", "column_spacing", "spectrum_peak_ratio",
// "smoothness", "curve_degrees", "pinwheel_density", "pinwheel_count", "pinwheels_counted",
// "border_margin", "pinwheels", "cluster_size", "local_entropy", "selective_fraction",
// "spectrum"}; NaN as null.
nlohmann::json orientation_map_json(const OrientationMapMeasures& measures, int64_t height,
                                    int64_t width);

}  // namespace nosharing
