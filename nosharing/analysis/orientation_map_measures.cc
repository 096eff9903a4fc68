#include "nosharing/analysis/orientation_map_measures.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "nosharing/core/error.h"
#include "nosharing/core/json_number.h"

namespace nosharing {
double selective_fraction(const torch::Tensor& selectivity) {
  const at::Tensor s = selectivity.detach().to(at::kDouble).reshape(-1);
  const at::Tensor units = at::isfinite(s);
  const int64_t n = units.sum().item<int64_t>();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  const int64_t selective = ((s > 1.0 - kSelectiveCircularVariance) & units).sum().item<int64_t>();
  return static_cast<double>(selective) / static_cast<double>(n);
}

OrientationMapMeasures measure_orientation_map(const torch::Tensor& theta,
                                               const torch::Tensor& selectivity,
                                               double cell_size,
                                               const MapMeasureOptions& options) {
  if (theta.dim() != 2) {
    throw_runtime("measure_orientation_map: expected a map [H, W], got {}",
                  c10::str(theta.sizes()));
  }
  if (selectivity.defined() && selectivity.sizes() != theta.sizes()) {
    throw_runtime("measure_orientation_map: selectivity {} for a map {}",
                  c10::str(selectivity.sizes()), c10::str(theta.sizes()));
  }
  if (!(cell_size > 0)) throw_usage("measure_orientation_map: cell size {}: expected > 0", cell_size);
  OrientationMapMeasures m;
  m.cell_size = cell_size;
  const at::Tensor angle = theta.detach().to(at::kDouble);
  at::Tensor preferred = angle;  // units with a preference; NaN elsewhere
  at::Tensor polar = angle;      // the pinwheels' map: no-preference cells get weight 0
  if (selectivity.defined()) {
    const at::Tensor none = selectivity.detach().to(at::kDouble) <= 0;  // NaN compares false
    preferred = at::where(none, at::full_like(angle, std::nan("")), angle);
    polar = at::where(none & at::isnan(angle), at::zeros_like(angle), angle);
  }
  m.pinwheels = find_pinwheels(polar, options.pinwheels, selectivity);
  const int64_t h = theta.size(0), w = theta.size(1);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor ys = at::arange(h, f64).view({h, 1}).expand({h, w});
  const at::Tensor xs = at::arange(w, f64).view({1, w}).expand({h, w});
  const at::Tensor coordinates = at::stack({ys.reshape(-1), xs.reshape(-1)}, 1) * cell_size;
  const SmoothnessRange range = smoothness_range(m.period(), coordinates, options.smoothness);
  m.curve = smoothness_curve(preferred.reshape(-1), coordinates, MapDifference::kOrientation,
                             options.smoothness, range);
  m.cluster_size = orientation_cluster_size(preferred, options.clusters) * cell_size;
  m.local_entropy = local_orientation_entropy(preferred, options.clusters);
  m.selective_fraction = selectivity.defined()
                             ? nosharing::selective_fraction(selectivity)
                             : std::numeric_limits<double>::quiet_NaN();
  return m;
}

nlohmann::json smoothness_curve_json(const SmoothnessCurve& curve, double scale) {
  return {{"distance", json_numbers(curve.distance)},
          {"difference", json_numbers(curve.difference, scale)},
          {"chance", json_numbers(curve.chance, scale)},
          {"normalised", json_numbers(curve.normalised)},
          {"pairs", curve.pairs},
          {"smoothness", json_number(curve.smoothness)},
          {"max_distance", json_number(curve.max_distance)},
          {"range_rule", curve.range_rule}};
}

nlohmann::json spectrum_json(const RadialSpectrum& spectrum, double cell_size) {
  return {{"frequency", json_numbers(spectrum.frequency, 1.0 / cell_size)},
          {"power", json_numbers(spectrum.power)}};
}

nlohmann::json pinwheels_json(const PinwheelResult& pinwheels) {
  nlohmann::json out = nlohmann::json::array();
  for (const Pinwheel& p : pinwheels.pinwheels) {
    out.push_back({{"y", p.y}, {"x", p.x}, {"sign", p.sign}, {"counted", p.counted}});
  }
  return out;
}

nlohmann::json orientation_map_json(const OrientationMapMeasures& m, int64_t height,
                                    int64_t width) {
  constexpr double kDegrees = 180.0 / M_PI;
  return {{"height", height},
          {"width", width},
          {"cell_size", m.cell_size},
          {"column_spacing", json_number(m.period())},
          {"spectrum_peak_ratio", json_number(m.pinwheels.peak_ratio)},
          {"smoothness", json_number(m.curve.smoothness)},
          {"curve_degrees", smoothness_curve_json(m.curve, kDegrees)},
          {"pinwheel_density", json_number(m.pinwheels.density)},
          {"pinwheel_count", m.pinwheels.count()},
          {"pinwheels_counted", m.pinwheels.counted},
          {"border_margin", json_number(m.pinwheels.margin * m.cell_size)},
          {"pinwheels", pinwheels_json(m.pinwheels)},
          {"cluster_size", json_number(m.cluster_size)},
          {"local_entropy", json_number(m.local_entropy)},
          {"selective_fraction", json_number(m.selective_fraction)},
          {"spectrum", spectrum_json(m.pinwheels.spectrum, m.cell_size)}};
}

}  // namespace nosharing
