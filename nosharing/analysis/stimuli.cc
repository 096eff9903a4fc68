#include "nosharing/analysis/stimuli.h"

#include <ATen/ATen.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {

Gratings make_gratings(int64_t channels, int64_t height, int64_t width,
                       const GratingOptions& options) {
  if (channels <= 0 || height <= 0 || width <= 0) {
    throw_usage("gratings: image size {}×{}×{} must be positive", channels, height, width);
  }
  if (options.orientations < 2 || options.phases < 1 || options.periods.empty()) {
    throw_usage("gratings: {} orientations, {} phases, {} periods: expected ≥ 2, ≥ 1, ≥ 1",
                options.orientations, options.phases, options.periods.size());
  }
  for (double period : options.periods) {
    if (!(period > 0)) throw_usage("gratings: period {} pixels must be positive", period);
  }
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor ys = at::arange(height, f64).view({height, 1});
  const at::Tensor xs = at::arange(width, f64).view({1, width});
  std::vector<at::Tensor> images;
  std::vector<int64_t> orientation;
  Gratings gratings;
  gratings.angles = at::arange(options.orientations, f64) * (M_PI / options.orientations);
  for (int64_t o = 0; o < options.orientations; ++o) {
    const double theta = M_PI * static_cast<double>(o) / options.orientations;
    const at::Tensor along = xs * std::cos(theta) + ys * std::sin(theta);  // [H, W]
    for (double period : options.periods) {
      for (int64_t p = 0; p < options.phases; ++p) {
        const double phi = 2 * M_PI * static_cast<double>(p) / options.phases;
        images.push_back(options.contrast * at::sin(along * (2 * M_PI / period) + phi));
        orientation.push_back(o);
      }
    }
  }
  gratings.images = at::stack(images)
                        .to(at::kFloat)
                        .unsqueeze(1)
                        .expand({-1, channels, height, width})
                        .contiguous();
  gratings.orientation = at::tensor(orientation, at::kLong);
  return gratings;
}

}  // namespace nosharing
