#include "nosharing/analysis/random_orientation_map.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {

OrientationMap random_orientation_map(int64_t height, int64_t width,
                                      const RandomOrientationMapOptions& options) {
  if (height < 2 || width < 2) {
    throw_usage("random_orientation_map: {}×{} cells: expected at least 2×2", height, width);
  }
  if (!(options.period >= 2)) {
    throw_usage("random_orientation_map: period {}: expected Λ ≥ 2 cells", options.period);
  }
  if (!(options.bandwidth > 0)) {
    throw_usage("random_orientation_map: bandwidth {}: expected > 0", options.bandwidth);
  }
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  auto generator = at::detail::createCPUGenerator(options.seed);
  const at::Tensor re = at::normal(0.0, 1.0, {height, width}, generator, f64);
  const at::Tensor im = at::normal(0.0, 1.0, {height, width}, generator, f64);
  const at::Tensor fy = at::fft_fftfreq(height, 1.0, f64).view({height, 1});
  const at::Tensor fx = at::fft_fftfreq(width, 1.0, f64).view({1, width});
  const double ring = 1.0 / options.period, sigma = options.bandwidth * ring;
  const at::Tensor k = at::sqrt(fy * fy + fx * fx);
  const at::Tensor filter = at::exp(-(k - ring).pow(2) / (2 * sigma * sigma));
  const at::Tensor z = at::fft_ifft2(at::fft_fft2(at::complex(re, im)) * filter);
  const at::Tensor magnitude = at::abs(z);
  OrientationMap map;
  map.preferred = at::remainder(at::angle(z) / 2, M_PI);
  map.selectivity = magnitude / magnitude.max().clamp_min(1e-300);
  return map;
}

}  // namespace nosharing
