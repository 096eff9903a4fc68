#include "nosharing/analysis/smoothness.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <limits>

#include "nosharing/analysis/orientation.h"
#include "nosharing/core/error.h"

namespace nosharing {

SmoothnessCurve smoothness_curve(const torch::Tensor& values, const torch::Tensor& coordinates,
                                 MapDifference difference, const SmoothnessOptions& options) {
  if (values.dim() != 1 || coordinates.dim() != 2 || coordinates.size(1) != 2 ||
      coordinates.size(0) != values.size(0)) {
    throw_runtime("smoothness_curve: expected values [U] and coordinates [U, 2], got {} and {}",
                  c10::str(values.sizes()), c10::str(coordinates.sizes()));
  }
  if (options.bins < 1) throw_usage("smoothness: bins = {}: expected ≥ 1", options.bins);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  at::Tensor v = values.detach().to(at::kDouble);
  at::Tensor xy = coordinates.detach().to(at::kDouble);
  const at::Tensor finite = at::isfinite(v).nonzero().view(-1);
  v = v.index_select(0, finite);
  xy = xy.index_select(0, finite);
  if (v.size(0) > options.max_units) {
    auto generator = at::detail::createCPUGenerator(options.seed);
    const at::Tensor keep = at::randperm(v.size(0), generator, at::TensorOptions().dtype(at::kLong))
                                .slice(0, 0, options.max_units);
    v = v.index_select(0, keep);
    xy = xy.index_select(0, keep);
  }
  SmoothnessCurve curve;
  curve.distance.assign(options.bins, nan);
  curve.difference.assign(options.bins, nan);
  curve.pairs.assign(options.bins, 0);
  curve.smoothness = nan;
  const int64_t n = v.size(0);
  if (n < 2) return curve;
  // Upper triangle of all pairs.
  const at::Tensor pairs = at::triu_indices(n, n, 1, at::TensorOptions().dtype(at::kLong));
  const at::Tensor i = pairs[0], j = pairs[1];
  const at::Tensor dist = (xy.index_select(0, i) - xy.index_select(0, j)).pow(2).sum(1).sqrt();
  const at::Tensor vi = v.index_select(0, i), vj = v.index_select(0, j);
  const at::Tensor diff =
      difference == MapDifference::kOrientation ? orientation_difference(vi, vj) : (vi - vj).abs();
  const double d_max = options.max_distance > 0 ? options.max_distance : dist.max().item<double>();
  const double width = d_max / options.bins;
  for (int64_t b = 0; b < options.bins; ++b) curve.distance[b] = (b + 0.5) * width;
  if (!(width > 0)) return curve;
  // Bin b holds d ∈ (b·w, (b+1)·w]; d = 0 is excluded.
  const at::Tensor positive = (dist > 1e-9) & (dist <= d_max * (1 + 1e-12));
  const at::Tensor kept = positive.nonzero().view(-1);
  const at::Tensor bin =
      (at::ceil(dist.index_select(0, kept) / width) - 1).clamp(0, options.bins - 1).to(at::kLong);
  const at::Tensor sums =
      at::zeros({options.bins}, v.options()).index_add_(0, bin, diff.index_select(0, kept));
  const at::Tensor counts = at::bincount(bin, {}, options.bins);
  double max_c = -1, first = nan;
  for (int64_t b = 0; b < options.bins; ++b) {
    curve.pairs[b] = counts[b].item<int64_t>();
    if (curve.pairs[b] == 0) continue;
    curve.difference[b] = sums[b].item<double>() / static_cast<double>(curve.pairs[b]);
    if (std::isnan(first)) first = curve.difference[b];
    max_c = std::max(max_c, curve.difference[b]);
  }
  if (max_c > 0) curve.smoothness = (max_c - first) / max_c;
  return curve;
}

}  // namespace nosharing
