#include "nosharing/analysis/wlsc_analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "nosharing/core/json_number.h"

namespace nosharing {
WlscAnalysis analyze_wlsc(const WlscImpl& model, int64_t patch_height, int64_t patch_width,
                          double min_r2) {
  WlscAnalysis out;
  out.side = model.sheet_side();
  out.patch_height = patch_height;
  out.patch_width = patch_width;
  out.min_r2 = min_r2;
  torch::NoGradGuard no_grad;
  const torch::Tensor a = model.dictionary().to(torch::kFloat64);  // [D, N]
  const int64_t n = a.size(1);
  out.atoms = a.t().reshape({n, patch_height, patch_width}).contiguous();
  out.fits = fit_gabors(out.atoms);
  out.orientation_map = torch::full({out.side, out.side}, kNan, torch::kFloat64);
  out.selectivity = torch::zeros({out.side, out.side}, torch::kFloat64);
  std::vector<double> r2s;
  int64_t good = 0;
  for (int64_t j = 0; j < n; ++j) {
    const GaborFit& fit = out.fits[static_cast<size_t>(j)];
    const bool ok = is_good_gabor(fit, patch_height, patch_width, min_r2);
    out.good.push_back(ok);
    r2s.push_back(fit.r2);
    if (ok) {
      ++good;
      out.orientation_map[j / out.side][j % out.side] = fit.params.orientation;
      out.selectivity[j / out.side][j % out.side] = 1.0;
    }
  }
  out.good_fraction = n > 0 ? static_cast<double>(good) / static_cast<double>(n) : 0;
  std::sort(r2s.begin(), r2s.end());
  out.median_r2 = r2s.empty() ? kNan : r2s[r2s.size() / 2];
  out.map = measure_orientation_map(out.orientation_map, out.selectivity, 1.0);
  out.ringach = ringach_plane(out.fits, out.good);
  return out;
}

nlohmann::json wlsc_analysis_to_json(const WlscAnalysis& analysis) {
  nlohmann::json atoms = nlohmann::json::array();
  for (size_t j = 0; j < analysis.fits.size(); ++j) {
    const GaborFit& f = analysis.fits[j];
    atoms.push_back({{"r2", json_number(f.r2)},
                     {"good", static_cast<bool>(analysis.good[j])},
                     {"orientation_deg", json_number(f.params.orientation * 180 / M_PI)},
                     {"frequency", json_number(f.params.frequency)},
                     {"phase", json_number(f.params.phase)},
                     {"x0", json_number(f.params.x0)},
                     {"y0", json_number(f.params.y0)},
                     {"sigma_p", json_number(f.params.sigma_p)},
                     {"sigma_q", json_number(f.params.sigma_q)},
                     {"amplitude", json_number(f.params.amplitude)}});
  }
  nlohmann::json orientation = orientation_map_json(analysis.map, analysis.side, analysis.side);
  orientation["mean_selectivity"] = nullptr;
  orientation["measured_as"] = "cortical map";
  orientation["units"] =
      "orientation = fitted Gabor θ; smoothness, cluster size and entropy over well-fit atoms; "
      "pinwheels and Λ from the polar map with weight 1 for a good fit, 0 otherwise";
  nlohmann::json layer = {
      {"name", "dictionary"},
      {"sheet", {analysis.side, analysis.side}},
      {"orientation", orientation},
      {"category", nullptr},
      {"retinotopy", nullptr},
      {"weight_snr", nullptr},
      {"gabor",
       {{"good_fraction", json_number(analysis.good_fraction)},
        {"criterion", fmt::format("R² ≥ {} and fitted centre inside the {}×{} patch",
                                  analysis.min_r2, analysis.patch_height, analysis.patch_width)},
        {"median_r2", json_number(analysis.median_r2)},
        {"atoms", atoms}}},
      {"ringach_plane", ringach_plane_json(analysis.ringach)},
  };
  return {{"model", "wlsc"}, {"layers", nlohmann::json::array({layer})}};
}

}  // namespace nosharing
