#include "nosharing/analysis/ringach_plane.h"

#include <algorithm>
#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/core/json_number.h"

namespace nosharing {
namespace ringach_plane_detail {

// The median (mean of the two middle values for an even count); NaN when empty.
double median(std::vector<double> values) {
  if (values.empty()) return kNan;
  const size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

}  // namespace ringach_plane_detail

RingachPlane ringach_plane(const std::vector<GaborFit>& fits, const std::vector<bool>& include,
                           const RingachPlaneOptions& options) {
  if (fits.size() != include.size()) {
    throw_usage("ringach_plane: {} fits but {} include flags", fits.size(), include.size());
  }
  if (!(options.reference() > 0)) {
    throw_usage("ringach_plane: reference {}: expected > 0", options.reference());
  }
  RingachPlane plane;
  plane.reference = options.reference();
  int64_t below = 0;
  for (size_t j = 0; j < fits.size(); ++j) {
    if (!include[j]) continue;
    const GaborParams& p = fits[j].params;
    const double nx = p.sigma_p * p.frequency, ny = p.sigma_q * p.frequency;
    if (!std::isfinite(nx) || !std::isfinite(ny)) continue;
    plane.units.push_back(static_cast<int64_t>(j));
    plane.nx.push_back(nx);
    plane.ny.push_back(ny);
    below += nx < plane.reference && ny < plane.reference;
  }
  plane.median_nx = ringach_plane_detail::median(plane.nx);
  plane.median_ny = ringach_plane_detail::median(plane.ny);
  plane.fraction_below =
      plane.nx.empty() ? kNan : static_cast<double>(below) / static_cast<double>(plane.nx.size());
  return plane;
}

nlohmann::json ringach_plane_json(const RingachPlane& plane) {
  nlohmann::json points = nlohmann::json::array();
  for (size_t i = 0; i < plane.nx.size(); ++i) {
    points.push_back(
        {{"unit", plane.units[i]}, {"nx", json_number(plane.nx[i])}, {"ny", json_number(plane.ny[i])}});
  }
  return {{"reference", plane.reference},
          {"median_nx", json_number(plane.median_nx)},
          {"median_ny", json_number(plane.median_ny)},
          {"fraction_below_reference", json_number(plane.fraction_below)},
          {"count", plane.nx.size()},
          {"source",
           "n_x = σ·f across the bars, n_y = σ·f along them (Ringach 2002, J Neurophysiol "
           "88:455); reference: most macaque cells at n_x, n_y < reference"},
          {"points", points}};
}

}  // namespace nosharing
