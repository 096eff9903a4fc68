#include "nosharing/analysis/wlsc_analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include "nosharing/core/json_number.h"

namespace nosharing {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();


// DESIGN §5 smoothness of an orientation map over the finite cells of `theta` [S, S]:
// pairs at distance > 0 in 20 equal bins of (0, d_max]; c(d) = mean orientation difference
// wrapped to [0, π/2]; s = (max c − c(d₁)) / max c with d₁ the first non-empty bin.
// (The maps branch's analysis/smoothness.h computes the same for every model; this one
// serves the wlsc analysis until that lands in main.)
void orientation_smoothness(const torch::Tensor& theta, WlscAnalysis& out) {
  const int64_t side = theta.size(0);
  std::vector<std::array<double, 3>> units;  // y, x, θ
  for (int64_t y = 0; y < side; ++y)
    for (int64_t x = 0; x < side; ++x) {
      const double t = theta[y][x].item<double>();
      if (std::isfinite(t)) units.push_back({static_cast<double>(y), static_cast<double>(x), t});
    }
  out.orientation_smoothness = kNaN;
  if (units.size() < 2) return;
  constexpr int kBins = 20;
  double d_max = 0;
  for (size_t i = 0; i < units.size(); ++i)
    for (size_t j = i + 1; j < units.size(); ++j)
      d_max = std::max(d_max, std::hypot(units[i][0] - units[j][0], units[i][1] - units[j][1]));
  std::vector<double> sum(kBins, 0);
  std::vector<int64_t> count(kBins, 0);
  for (size_t i = 0; i < units.size(); ++i)
    for (size_t j = i + 1; j < units.size(); ++j) {
      const double d = std::hypot(units[i][0] - units[j][0], units[i][1] - units[j][1]);
      if (d <= 0) continue;
      const int bin = std::min(kBins - 1, static_cast<int>(d / d_max * kBins - 1e-9));
      double diff = std::fmod(std::abs(units[i][2] - units[j][2]), M_PI);
      diff = std::min(diff, M_PI - diff);
      sum[static_cast<size_t>(bin)] += diff;
      ++count[static_cast<size_t>(bin)];
    }
  double max_c = 0, first = kNaN;
  for (int b = 0; b < kBins; ++b) {
    out.smoothness_distance.push_back((b + 0.5) * d_max / kBins);
    const double c = count[static_cast<size_t>(b)] > 0 ? sum[static_cast<size_t>(b)] / count[static_cast<size_t>(b)] : kNaN;
    out.smoothness_difference.push_back(c);
    if (std::isfinite(c)) {
      max_c = std::max(max_c, c);
      if (!std::isfinite(first)) first = c;
    }
  }
  if (max_c > 0) out.orientation_smoothness = (max_c - first) / max_c;
}

}  // namespace

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
  out.orientation_map = torch::full({out.side, out.side}, kNaN, torch::kFloat64);
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
    }
  }
  out.good_fraction = n > 0 ? static_cast<double>(good) / static_cast<double>(n) : 0;
  std::sort(r2s.begin(), r2s.end());
  out.median_r2 = r2s.empty() ? kNaN : r2s[r2s.size() / 2];
  orientation_smoothness(out.orientation_map, out);
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
  nlohmann::json curve = nlohmann::json::array();
  for (size_t b = 0; b < analysis.smoothness_distance.size(); ++b) {
    curve.push_back({{"distance", json_number(analysis.smoothness_distance[b])},
                     {"difference_deg", json_number(analysis.smoothness_difference[b] * 180 / M_PI)}});
  }
  nlohmann::json layer = {
      {"name", "dictionary"},
      {"sheet", {analysis.side, analysis.side}},
      {"orientation",
       {{"smoothness", json_number(analysis.orientation_smoothness)},
        {"pinwheel_density", nullptr},
        {"mean_selectivity", nullptr},
        {"curve", curve},
        {"units", "well-fit atoms only; orientation = fitted Gabor θ"}}},
      {"category", nullptr},
      {"retinotopy", nullptr},
      {"weight_snr", nullptr},
      {"gabor",
       {{"good_fraction", json_number(analysis.good_fraction)},
        {"criterion", fmt::format("R² ≥ {} and fitted centre inside the {}×{} patch",
                                  analysis.min_r2, analysis.patch_height, analysis.patch_width)},
        {"median_r2", json_number(analysis.median_r2)},
        {"atoms", atoms}}},
  };
  return {{"model", "wlsc"}, {"layers", nlohmann::json::array({layer})}};
}

}  // namespace nosharing
