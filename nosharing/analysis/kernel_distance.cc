#include "nosharing/analysis/kernel_distance.h"

#include <ATen/ATen.h>

#include <cmath>
#include <cstdlib>
#include <limits>

#include "nosharing/core/error.h"

namespace nosharing {

double kernel_distance(const torch::Tensor& weight, int64_t height, int64_t width, int64_t radius) {
  if (weight.dim() != 3 || weight.size(0) != height * width || radius < 1) {
    throw_runtime(
        "kernel_distance: expected weight [{}·{}, C_out, F] and radius ≥ 1, got {} and {}", height,
        width, c10::str(weight.sizes()), radius);
  }
  const at::Tensor w = weight.detach().to(at::kDouble).view({height, width, weight.size(1), -1});
  const double rms = std::sqrt(w.pow(2).sum(-1).mean().item<double>());
  double total = 0;
  int64_t count = 0;
  // Each unordered pair once: offsets (dy, dx) with max(|dy|, |dx|) = r and (dy, dx) > 0
  // lexicographically.
  for (int64_t dy = 0; dy <= radius; ++dy) {
    for (int64_t dx = -radius; dx <= radius; ++dx) {
      if (std::max(std::abs(dy), std::abs(dx)) != radius || (dy == 0 && dx < 0)) continue;
      if (dy >= height || std::abs(dx) >= width) continue;
      const int64_t x0 = std::max<int64_t>(0, -dx), x1 = std::min(width, width - dx);
      const at::Tensor a = w.slice(0, 0, height - dy).slice(1, x0, x1);
      const at::Tensor b = w.slice(0, dy, height).slice(1, x0 + dx, x1 + dx);
      const at::Tensor d = (a - b).pow(2).sum(-1).sqrt();  // [h, w, C_out]
      total += d.sum().item<double>();
      count += d.numel();
    }
  }
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  return rms > 0 ? total / count / rms : 0.0;
}

}  // namespace nosharing
