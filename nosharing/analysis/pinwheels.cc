#include "nosharing/analysis/pinwheels.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "nosharing/core/error.h"

namespace nosharing {
namespace {

void check_map(const torch::Tensor& theta, const char* who) {
  if (theta.dim() != 2 || theta.size(0) < 2 || theta.size(1) < 2) {
    throw_runtime("{}: expected an orientation map [H, W] of at least 2×2, got {}", who,
                  c10::str(theta.sizes()));
  }
}

// Wraps to (−π, π].
double wrap(double a) {
  a = std::remainder(a, 2 * M_PI);
  return a <= -M_PI ? a + 2 * M_PI : a;
}

}  // namespace

torch::Tensor smooth_orientation_map(const torch::Tensor& theta, double sigma,
                                     const torch::Tensor& weight) {
  check_map(theta, "smooth_orientation_map");
  const at::Tensor doubled = 2 * theta.detach().to(at::kDouble);
  const at::Tensor valid = at::isfinite(doubled);
  if (!(sigma > 0)) return at::remainder(doubled / 2, M_PI);
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
  const at::Tensor t = at::arange(-radius, radius + 1, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor g1 = at::exp(-(t * t) / (2 * sigma * sigma));
  const at::Tensor kernel = (g1.view({-1, 1}) * g1.view({1, -1})).view({1, 1, 2 * radius + 1, -1});
  auto blur = [&](const at::Tensor& field) {
    return at::conv2d(field.unsqueeze(0).unsqueeze(0), kernel, {}, 1, radius).squeeze(0).squeeze(0);
  };
  // Zero padding and zero at NaN cells, divided by the blurred mask: edges and holes average
  // only what is there.
  const at::Tensor inside = valid.to(at::kDouble);
  const at::Tensor magnitude =
      weight.defined()
          ? at::where(valid & at::isfinite(weight.to(at::kDouble)), weight.to(at::kDouble),
                      at::zeros_like(inside))
          : inside;
  const at::Tensor angle = at::where(valid, doubled, at::zeros_like(doubled));
  const at::Tensor mask = blur(inside);
  const at::Tensor re = blur(at::cos(angle) * magnitude) / mask;
  const at::Tensor im = blur(at::sin(angle) * magnitude) / mask;
  const at::Tensor smoothed = at::remainder(at::atan2(im, re) / 2, M_PI);
  return at::where(valid, smoothed, at::full_like(smoothed, std::nan("")));
}

double orientation_map_period(const torch::Tensor& theta, const SpacingOptions& options) {
  check_map(theta, "orientation_map_period");
  return column_spacing(orientation_spectrum(theta), options).period;
}

PinwheelResult find_pinwheels(const torch::Tensor& theta, const PinwheelOptions& options,
                              const torch::Tensor& weight) {
  check_map(theta, "find_pinwheels");
  if (weight.defined() && weight.sizes() != theta.sizes()) {
    throw_runtime("find_pinwheels: weight {} for a map {}", c10::str(weight.sizes()),
                  c10::str(theta.sizes()));
  }
  const int64_t h = theta.size(0), w = theta.size(1);
  PinwheelResult result;
  result.smoothed = smooth_orientation_map(theta, options.smoothing_sigma, weight).contiguous();
  const double* t = result.smoothed.data_ptr<double>();
  result.winding = at::zeros({h - 1, w - 1}, at::TensorOptions().dtype(at::kLong));
  int64_t* wind = result.winding.data_ptr<int64_t>();
  // Λ from the map as given: smoothing is a low-pass filter, which would lend white noise a
  // spectral peak at the lowest frequencies.
  result.spectrum = orientation_spectrum(theta, weight);
  const ColumnSpacing spacing = column_spacing(result.spectrum, options.spacing);
  result.period = spacing.period;
  result.peak_ratio = spacing.peak_ratio;
  result.peak_period = spacing.peak_period;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  result.margin = std::isfinite(result.period) ? options.margin_periods * result.period : 0.0;
  // The plaquette's corners clockwise as drawn with y downwards; the order fixes the sign.
  static const int corners[4][2] = {{0, 0}, {0, 1}, {1, 1}, {1, 0}};
  for (int64_t y = 0; y + 1 < h; ++y) {
    for (int64_t x = 0; x + 1 < w; ++x) {
      double total = 0;
      bool finite = true;
      for (int k = 0; k < 4; ++k) {
        const int* a = corners[k];
        const int* b = corners[(k + 1) % 4];
        const double step = t[(y + b[0]) * w + x + b[1]] - t[(y + a[0]) * w + x + a[1]];
        finite = finite && std::isfinite(step);
        total += wrap(2 * step);
      }
      const int64_t winding = finite ? std::lround(total / (2 * M_PI)) : 0;
      wind[y * (w - 1) + x] = winding;
      if (winding == 0) continue;
      Pinwheel p;
      p.y = static_cast<double>(y) + 0.5;
      p.x = static_cast<double>(x) + 0.5;
      p.sign = winding > 0 ? 1 : -1;
      p.counted = p.y >= result.margin && p.x >= result.margin &&
                  p.y <= static_cast<double>(h - 1) - result.margin &&
                  p.x <= static_cast<double>(w - 1) - result.margin;
      result.counted += p.counted;
      result.pinwheels.push_back(p);
    }
  }
  // Each plaquette is a unit square between cell centres: the plaquettes cover
  // [0, H − 1] × [0, W − 1], and the counted ones [margin, H − 1 − margin] × ….
  const double inner_h = static_cast<double>(h - 1) - 2 * result.margin;
  const double inner_w = static_cast<double>(w - 1) - 2 * result.margin;
  if (std::isfinite(result.period) &&
      static_cast<double>(std::min(h, w)) / result.period >= options.min_periods && inner_h > 0 &&
      inner_w > 0) {
    result.density =
        static_cast<double>(result.counted) * result.period * result.period / (inner_h * inner_w);
  } else {
    result.density = nan;
  }
  return result;
}

}  // namespace nosharing
