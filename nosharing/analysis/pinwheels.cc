#include "nosharing/analysis/pinwheels.h"

#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "nosharing/analysis/connected_components.h"
#include "nosharing/core/error.h"

namespace nosharing {
namespace {

void check_map(const torch::Tensor& theta, const char* who) {
  if (theta.dim() != 2 || theta.size(0) < 1 || theta.size(1) < 1) {
    throw_runtime("{}: expected an orientation map [H, W], got {}", who, c10::str(theta.sizes()));
  }
}

// Wraps to (−π, π].
double wrap(double a) {
  a = std::remainder(a, 2 * M_PI);
  return a <= -M_PI ? a + 2 * M_PI : a;
}

}  // namespace

torch::Tensor smooth_orientation_map(const torch::Tensor& theta, double sigma) {
  check_map(theta, "smooth_orientation_map");
  const at::Tensor doubled = 2 * theta.detach().to(at::kDouble);
  if (!(sigma > 0)) return at::remainder(doubled / 2, M_PI);
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
  const at::Tensor t = at::arange(-radius, radius + 1, at::TensorOptions().dtype(at::kDouble));
  const at::Tensor g1 = at::exp(-(t * t) / (2 * sigma * sigma));
  const at::Tensor kernel = (g1.view({-1, 1}) * g1.view({1, -1})).view({1, 1, 2 * radius + 1, -1});
  auto blur = [&](const at::Tensor& field) {
    return at::conv2d(field.unsqueeze(0).unsqueeze(0), kernel, {}, 1, radius).squeeze(0).squeeze(0);
  };
  // Zero padding, divided by the blurred mask: edges average only what lies inside.
  const at::Tensor mask = blur(at::ones_like(doubled));
  const at::Tensor re = blur(at::cos(doubled)) / mask;
  const at::Tensor im = blur(at::sin(doubled)) / mask;
  return at::remainder(at::atan2(im, re) / 2, M_PI);
}

double orientation_map_period(const torch::Tensor& theta) {
  check_map(theta, "orientation_map_period");
  const int64_t h = theta.size(0), w = theta.size(1);
  const at::Tensor doubled = 2 * theta.detach().to(at::kDouble);
  at::Tensor z = at::complex(at::cos(doubled), at::sin(doubled));
  z = z - z.mean();
  const at::Tensor power = at::abs(at::fft_fft2(z)).pow(2);  // [H, W]
  // Frequencies in cycles per grid unit; radial bins of width 1/max(H, W).
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor fy = at::fft_fftfreq(h, 1.0, f64).view({h, 1});
  const at::Tensor fx = at::fft_fftfreq(w, 1.0, f64).view({1, w});
  const at::Tensor radius = at::sqrt(fy * fy + fx * fx);
  const double step = 1.0 / static_cast<double>(std::max(h, w));
  const at::Tensor bin = at::round(radius / step).to(at::kLong).view(-1);
  const int64_t bins = bin.max().item<int64_t>() + 1;
  const at::Tensor sums = at::zeros({bins}, f64).index_add_(0, bin, power.view(-1));
  const at::Tensor counts = at::bincount(bin, {}, bins).to(at::kDouble).clamp_min(1);
  const at::Tensor mean_power = sums / counts;
  // Skip the DC bin (the mean was removed, but a constant map is all DC).
  if (bins < 2) return std::numeric_limits<double>::quiet_NaN();
  const at::Tensor rest = mean_power.slice(0, 1);
  if (rest.max().item<double>() <= 1e-18 * std::max(1.0, sums.sum().item<double>())) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const int64_t peak = rest.argmax().item<int64_t>() + 1;
  return 1.0 / (static_cast<double>(peak) * step);
}

PinwheelResult find_pinwheels(const torch::Tensor& theta, const PinwheelOptions& options) {
  check_map(theta, "find_pinwheels");
  const int64_t h = theta.size(0), w = theta.size(1);
  PinwheelResult result;
  result.smoothed = smooth_orientation_map(theta, options.smoothing_sigma).contiguous();
  const double* t = result.smoothed.data_ptr<double>();
  result.winding = at::zeros({h, w}, at::TensorOptions().dtype(at::kLong));
  int64_t* wind = result.winding.data_ptr<int64_t>();
  // The 8-ring as (dy, dx), clockwise as drawn with y downwards; the order only fixes the
  // sign of w.
  static const int ring[8][2] = {{-1, -1}, {-1, 0}, {-1, 1}, {0, 1},
                                 {1, 1},   {1, 0},  {1, -1}, {0, -1}};
  for (int64_t y = 1; y + 1 < h; ++y) {
    for (int64_t x = 1; x + 1 < w; ++x) {
      double total = 0;
      for (int k = 0; k < 8; ++k) {
        const int* a = ring[k];
        const int* b = ring[(k + 1) % 8];
        total += wrap(2 * (t[(y + b[0]) * w + x + b[1]] - t[(y + a[0]) * w + x + a[1]]));
      }
      wind[y * w + x] = std::lround(total / (2 * M_PI));
    }
  }
  for (int sign : {1, -1}) {
    const at::Tensor mask = result.winding * sign >= 1;
    const Components blobs = connected_components(mask, /*eight_connected=*/true);
    for (const Component& blob : blobs.components) {
      result.pinwheels.push_back({blob.centroid_y, blob.centroid_x, sign});
    }
  }
  result.period = orientation_map_period(result.smoothed);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (std::isfinite(result.period) &&
      static_cast<double>(std::min(h, w)) / result.period >= options.min_periods) {
    result.density = static_cast<double>(result.count()) * result.period * result.period /
                     static_cast<double>(h * w);
  } else {
    result.density = nan;
  }
  return result;
}

}  // namespace nosharing
