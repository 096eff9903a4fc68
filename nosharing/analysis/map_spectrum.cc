#include "nosharing/analysis/map_spectrum.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nosharing/core/error.h"

namespace nosharing {

RadialSpectrum orientation_spectrum(const torch::Tensor& theta, const torch::Tensor& weight) {
  if (theta.dim() != 2 || theta.size(0) < 2 || theta.size(1) < 2) {
    throw_runtime("orientation_spectrum: expected an orientation map [H, W] of at least 2×2, "
                  "got {}",
                  c10::str(theta.sizes()));
  }
  const int64_t h = theta.size(0), w = theta.size(1);
  const at::Tensor doubled = 2 * theta.detach().to(at::kDouble);
  at::Tensor valid = at::isfinite(doubled);
  if (weight.defined()) {
    if (weight.sizes() != theta.sizes()) {
      throw_runtime("orientation_spectrum: weight {} for a map {}", c10::str(weight.sizes()),
                    c10::str(theta.sizes()));
    }
    valid = valid & at::isfinite(weight.to(at::kDouble));
  }
  const at::Tensor angle = at::where(valid, doubled, at::zeros_like(doubled));
  const at::Tensor inside = valid.to(at::kDouble);
  const at::Tensor magnitude =
      weight.defined() ? at::where(valid, weight.to(at::kDouble), at::zeros_like(doubled)) : inside;
  at::Tensor re = at::cos(angle) * magnitude, im = at::sin(angle) * magnitude;
  const double cells = std::max(1.0, inside.sum().item<double>());
  re = (re - re.sum() / cells) * inside;
  im = (im - im.sum() / cells) * inside;
  const at::Tensor power = at::abs(at::fft_fft2(at::complex(re, im))).pow(2);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor fy = at::fft_fftfreq(h, 1.0, f64).view({h, 1});
  const at::Tensor fx = at::fft_fftfreq(w, 1.0, f64).view({1, w});
  const double step = 1.0 / static_cast<double>(std::max(h, w));
  const at::Tensor bin = at::round(at::sqrt(fy * fy + fx * fx) / step).to(at::kLong).view(-1);
  const int64_t bins = bin.max().item<int64_t>() + 1;
  const at::Tensor sums = at::zeros({bins}, f64).index_add_(0, bin, power.reshape(-1));
  const at::Tensor counts = at::bincount(bin, {}, bins).to(at::kDouble).clamp_min(1);
  at::Tensor mean = sums / counts;
  const double total = mean.sum().item<double>();
  if (total > 0) mean = mean / total;
  RadialSpectrum spectrum;
  const double* m = mean.data_ptr<double>();
  for (int64_t b = 0; b < bins; ++b) {
    spectrum.frequency.push_back(static_cast<double>(b) * step);
    spectrum.power.push_back(m[b]);
  }
  return spectrum;
}

ColumnSpacing column_spacing(const RadialSpectrum& spectrum, const SpacingOptions& options) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  ColumnSpacing spacing{nan, 0.0, nan};
  const std::vector<double>& p = spectrum.power;
  if (p.size() < 3) return spacing;
  // Non-DC bins (the mean was removed; a constant map is all DC).
  const size_t peak = std::max_element(p.begin() + 1, p.end()) - p.begin();
  std::vector<double> rest(p.begin() + 1, p.end());
  std::nth_element(rest.begin(), rest.begin() + rest.size() / 2, rest.end());
  const double median = rest[rest.size() / 2];
  if (!(p[peak] > 0)) return spacing;
  spacing.peak_ratio = median > 0 ? p[peak] / median : std::numeric_limits<double>::infinity();
  if (spacing.peak_ratio < options.min_peak_ratio) return spacing;
  spacing.peak_period = 1.0 / spectrum.frequency[peak];
  // A peak in the lowest bin is one cycle across the map: a trend over the sheet, not a
  // column spacing (the map would span a single Λ).
  if (peak == 1) return spacing;
  size_t lo = peak, hi = peak;
  while (lo > 1 && p[lo - 1] >= 0.5 * p[peak]) --lo;
  while (hi + 1 < p.size() && p[hi + 1] >= 0.5 * p[peak]) ++hi;
  double weighted = 0, sum = 0;
  for (size_t b = lo; b <= hi; ++b) {
    weighted += spectrum.frequency[b] * p[b];
    sum += p[b];
  }
  spacing.period = 1.0 / (weighted / sum);
  return spacing;
}

}  // namespace nosharing
