#include "nosharing/analysis/retinotopy.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>

#include <cmath>
#include <limits>
#include <vector>

#include "nosharing/core/error.h"

namespace nosharing {

torch::Tensor rf_centres(const UnitFunction& layer, int64_t channels, int64_t height, int64_t width,
                         const torch::Tensor& units, const RfOptions& options) {
  if (units.dim() != 1)
    throw_runtime("rf_centres: expected units [N], got {}", c10::str(units.sizes()));
  const int64_t n = units.size(0), repeats = std::max<int64_t>(1, options.inputs);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  at::Tensor centres = at::full({n, 2}, std::numeric_limits<double>::quiet_NaN(), f64);
  const at::Tensor ys = at::arange(height, f64).view({height, 1});
  const at::Tensor xs = at::arange(width, f64).view({1, width});
  auto generator = at::detail::createCPUGenerator(options.seed);
  const at::Tensor index = units.to(at::kLong);
  for (int64_t begin = 0; begin < n; begin += options.chunk) {
    const int64_t m = std::min(options.chunk, n - begin);
    // Row b·repeats + r differentiates unit b of the chunk at random input r.
    at::Tensor images =
        at::randn({m * repeats, channels, height, width}, generator, at::TensorOptions())
            .set_requires_grad(true);
    const at::Tensor out = layer(images);
    if (out.dim() != 2 || out.size(0) != m * repeats) {
      throw_runtime("rf_centres: the layer returned {} for a batch of {}", c10::str(out.sizes()),
                    m * repeats);
    }
    const at::Tensor picked = index.slice(0, begin, begin + m).repeat_interleave(repeats);
    const at::Tensor selected = out.gather(1, picked.view({-1, 1}));
    const at::Tensor grad = torch::autograd::grad({selected.sum()}, {images})[0];
    const at::Tensor weight = grad.detach()
                                  .abs()
                                  .to(at::kDouble)
                                  .reshape({m, repeats, channels, height, width})
                                  .sum({1, 2});  // [m, H, W]
    const at::Tensor mass = weight.sum({1, 2});
    const at::Tensor cy = (weight * ys).sum({1, 2}) / mass;
    const at::Tensor cx = (weight * xs).sum({1, 2}) / mass;
    const at::Tensor valid = (mass > 0).view({m, 1});
    centres.slice(0, begin, begin + m)
        .copy_(at::where(valid, at::stack({cy, cx}, 1), at::full({m, 2}, NAN, f64)));
  }
  return centres;
}

double rf_position_correlation(const torch::Tensor& centres, const torch::Tensor& positions) {
  if (centres.dim() != 2 || centres.size(1) != 2 || positions.sizes() != centres.sizes()) {
    throw_runtime("rf_position_correlation: expected centres and positions [N, 2], got {} and {}",
                  c10::str(centres.sizes()), c10::str(positions.sizes()));
  }
  const at::Tensor c = centres.to(at::kDouble), p = positions.to(at::kDouble);
  const at::Tensor rows = (at::isfinite(c).all(1) & at::isfinite(p).all(1)).nonzero().view(-1);
  double sum = 0;
  int axes = 0;
  for (int64_t axis = 0; axis < 2; ++axis) {
    const at::Tensor a = c.index_select(0, rows).select(1, axis);
    const at::Tensor b = p.index_select(0, rows).select(1, axis);
    if (a.numel() < 2) continue;
    const at::Tensor da = a - a.mean(), db = b - b.mean();
    const double norm = std::sqrt((da * da).sum().item<double>() * (db * db).sum().item<double>());
    if (!(norm > 1e-12)) continue;
    sum += (da * db).sum().item<double>() / norm;
    ++axes;
  }
  return axes == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / axes;
}

}  // namespace nosharing
