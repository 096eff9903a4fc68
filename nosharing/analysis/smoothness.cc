#include "nosharing/analysis/smoothness.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nosharing/analysis/orientation.h"
#include "nosharing/core/error.h"
#include "nosharing/core/json_number.h"

namespace nosharing {
namespace {

constexpr double kSamePoint = 1e-9;  // distances below this are the same point
constexpr int64_t kAnchorChunk = 64;

const auto kLong = at::TensorOptions().dtype(at::kLong);

void check_coordinates(const torch::Tensor& coordinates, const char* who) {
  if (coordinates.dim() != 2 || coordinates.size(1) != 2) {
    throw_runtime("{}: expected coordinates [U, 2], got {}", who, c10::str(coordinates.sizes()));
  }
}

// Up to `count` distinct indices of [0, n), drawn with the generator.
at::Tensor draw(int64_t n, int64_t count, at::Generator& generator) {
  return at::randperm(n, generator, kLong).slice(0, 0, std::min(n, count));
}

}  // namespace

double unit_spacing(const torch::Tensor& coordinates, uint64_t seed) {
  check_coordinates(coordinates, "unit_spacing");
  const at::Tensor xy = coordinates.detach().to(at::kDouble);
  if (xy.size(0) < 2) return kNan;
  auto generator = at::detail::createCPUGenerator(seed);
  const at::Tensor probes = draw(xy.size(0), 256, generator);
  at::Tensor d = at::cdist(xy.index_select(0, probes), xy);
  d = at::where(d > kSamePoint, d, at::full_like(d, std::numeric_limits<double>::infinity()));
  const at::Tensor nearest = std::get<0>(d.min(1));
  const at::Tensor finite = nearest.index_select(0, at::isfinite(nearest).nonzero().view(-1));
  return finite.numel() ? finite.median().item<double>() : kNan;
}

SmoothnessRange smoothness_range(double period, const torch::Tensor& coordinates,
                                 const SmoothnessOptions& options) {
  SmoothnessRange range;
  if (std::isfinite(period) && period > 0) {
    range.max_distance = (4.0 / 3.0) * period * std::sqrt(2.0) / 2.0;
    range.rule = "period";
    return range;
  }
  check_coordinates(coordinates, "smoothness_range");
  const at::Tensor xy = coordinates.detach().to(at::kDouble);
  const double spacing = unit_spacing(xy);
  if (xy.size(0) < 2) throw_runtime("smoothness_range: {} units: expected at least 2", xy.size(0));
  const at::Tensor extent = std::get<0>(xy.max(0)) - std::get<0>(xy.min(0));
  const double shorter = extent.min().item<double>();
  range.max_distance = static_cast<double>(options.bins) * spacing;
  if (shorter > 0) range.max_distance = std::min(range.max_distance, shorter / 2);
  range.rule = "fixed";
  return range;
}

SheetPairs sample_sheet_pairs(const torch::Tensor& coordinates, const SmoothnessRange& range,
                              const SmoothnessOptions& options, const torch::Tensor& group) {
  check_coordinates(coordinates, "sample_sheet_pairs");
  if (options.bins < 1) throw_usage("smoothness: bins = {}: expected ≥ 1", options.bins);
  if (options.anchors < 1) throw_usage("smoothness: anchors = {}: expected ≥ 1", options.anchors);
  const at::Tensor xy = coordinates.detach().to(at::kDouble).contiguous();
  const int64_t units = xy.size(0);
  if (group.defined() && (group.dim() != 1 || group.size(0) != units)) {
    throw_runtime("sample_sheet_pairs: expected group [{}], got {}", units,
                  c10::str(group.sizes()));
  }
  SheetPairs pairs;
  pairs.range = range;
  const double width = range.max_distance / static_cast<double>(options.bins);
  for (int64_t b = 0; b < options.bins; ++b) pairs.distance.push_back((b + 0.5) * width);
  auto generator = at::detail::createCPUGenerator(options.seed);
  const at::Tensor anchors = draw(units, options.anchors, generator);
  std::vector<at::Tensor> first, second;
  if (units >= 2 && width > 0) {
    for (int64_t start = 0; start < anchors.size(0); start += kAnchorChunk) {
      const at::Tensor chunk = anchors.slice(0, start, start + kAnchorChunk);
      const at::Tensor d = at::cdist(xy.index_select(0, chunk), xy);  // [A, U]
      at::Tensor near = (d > kSamePoint) & (d <= range.max_distance * (1 + 1e-12));
      if (group.defined()) near = near & (group.index_select(0, chunk).view({-1, 1}) == group);
      for (int64_t a = 0; a < chunk.size(0); ++a) {
        at::Tensor partners = near[a].nonzero().view(-1);
        if (partners.size(0) > options.max_pairs_per_anchor) {
          partners = partners.index_select(
              0, draw(partners.size(0), options.max_pairs_per_anchor, generator));
        }
        first.push_back(at::full({partners.size(0)}, chunk[a].item<int64_t>(), kLong));
        second.push_back(partners);
      }
    }
  }
  pairs.first = first.empty() ? at::empty({0}, kLong) : at::cat(first);
  pairs.second = second.empty() ? at::empty({0}, kLong) : at::cat(second);
  if (pairs.first.numel() > 0) {
    const at::Tensor dist =
        (xy.index_select(0, pairs.first) - xy.index_select(0, pairs.second)).pow(2).sum(1).sqrt();
    // Bin b holds d ∈ (b·w, (b+1)·w].
    pairs.bin = (at::ceil(dist / width) - 1).clamp(0, options.bins - 1).to(at::kLong);
  } else {
    pairs.bin = at::empty({0}, kLong);
  }
  return pairs;
}

SmoothnessCurve smoothness_curve(const torch::Tensor& values, const SheetPairs& pairs,
                                 MapDifference difference, uint64_t seed) {
  if (values.dim() != 1) {
    throw_runtime("smoothness_curve: expected values [U], got {}", c10::str(values.sizes()));
  }
  const int64_t bins = static_cast<int64_t>(pairs.distance.size());
  SmoothnessCurve curve;
  curve.distance = pairs.distance;
  curve.difference.assign(bins, kNan);
  curve.chance.assign(bins, kNan);
  curve.normalised.assign(bins, kNan);
  curve.pairs.assign(bins, 0);
  curve.smoothness = kNan;
  curve.max_distance = pairs.range.max_distance;
  curve.range_rule = pairs.range.rule;
  if (bins == 0 || pairs.first.numel() == 0) return curve;
  const at::Tensor v = values.detach().to(at::kDouble);
  // Chance: the finite values shuffled across the units that have one.
  const at::Tensor finite_units = at::isfinite(v).nonzero().view(-1);
  auto generator = at::detail::createCPUGenerator(seed + 0x5eed);
  at::Tensor shuffled = v.clone();
  shuffled.index_put_({finite_units},
                      v.index_select(0, finite_units)
                          .index_select(0, at::randperm(finite_units.size(0), generator, kLong)));
  auto differences = [&](const at::Tensor& field) {
    const at::Tensor a = field.index_select(0, pairs.first);
    const at::Tensor b = field.index_select(0, pairs.second);
    return difference == MapDifference::kOrientation ? orientation_difference(a, b)
                                                     : (a - b).abs();
  };
  const at::Tensor diff = differences(v), chance = differences(shuffled);
  const at::Tensor keep = at::isfinite(diff).nonzero().view(-1);
  const at::Tensor bin = pairs.bin.index_select(0, keep);
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor sums = at::zeros({bins}, f64).index_add_(0, bin, diff.index_select(0, keep));
  const at::Tensor chance_sums =
      at::zeros({bins}, f64).index_add_(0, bin, chance.index_select(0, keep));
  const at::Tensor counts = at::bincount(bin, {}, bins);
  double max_n = -1, first = kNan;
  for (int64_t b = 0; b < bins; ++b) {
    curve.pairs[b] = counts[b].item<int64_t>();
    if (curve.pairs[b] == 0) continue;
    const double n = static_cast<double>(curve.pairs[b]);
    curve.difference[b] = sums[b].item<double>() / n;
    curve.chance[b] = chance_sums[b].item<double>() / n;
    if (!(curve.chance[b] > 0)) continue;
    curve.normalised[b] = curve.difference[b] / curve.chance[b];
    if (std::isnan(first)) first = curve.normalised[b];
    max_n = std::max(max_n, curve.normalised[b]);
  }
  if (max_n > 0) curve.smoothness = (max_n - first) / max_n;
  return curve;
}

SmoothnessCurve smoothness_curve(const torch::Tensor& values, const torch::Tensor& coordinates,
                                 MapDifference difference, const SmoothnessOptions& options,
                                 SmoothnessRange range) {
  if (values.dim() != 1 || coordinates.dim() != 2 || coordinates.size(0) != values.size(0)) {
    throw_runtime("smoothness_curve: expected values [U] and coordinates [U, 2], got {} and {}",
                  c10::str(values.sizes()), c10::str(coordinates.sizes()));
  }
  if (!(range.max_distance > 0)) range = smoothness_range(kNan, coordinates, options);
  return smoothness_curve(values, sample_sheet_pairs(coordinates, range, options), difference,
                          options.seed);
}

}  // namespace nosharing
