#include "nosharing/analysis/category.h"

#include <ATen/ATen.h>

#include <limits>

#include "nosharing/core/error.h"

namespace nosharing {

CategoryStatistics::CategoryStatistics(int64_t num_classes, int64_t units) {
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  sums_ = at::zeros({num_classes, units}, f64);
  squares_ = at::zeros({num_classes, units}, f64);
  counts_ = at::zeros({num_classes}, f64);
}

void CategoryStatistics::add(const torch::Tensor& responses, const torch::Tensor& labels) {
  if (responses.dim() != 2 || labels.dim() != 1 || labels.size(0) != responses.size(0) ||
      responses.size(1) != sums_.size(1)) {
    throw_runtime("category d′: expected responses [N, {}] and labels [N], got {} and {}",
                  sums_.size(1), c10::str(responses.sizes()), c10::str(labels.sizes()));
  }
  const at::Tensor y = labels.to(at::kLong);
  if (y.numel() > 0 &&
      (y.min().item<int64_t>() < 0 || y.max().item<int64_t>() >= counts_.size(0))) {
    throw_runtime("category d′: labels must lie in [0, {}), got [{}, {}]", counts_.size(0),
                  y.min().item<int64_t>(), y.max().item<int64_t>());
  }
  const at::Tensor r = responses.detach().to(at::kDouble);
  sums_.index_add_(0, y, r);
  squares_.index_add_(0, y, r * r);
  counts_.index_add_(0, y, at::ones({y.size(0)}, counts_.options()));
}

int64_t CategoryStatistics::images() const {
  return static_cast<int64_t>(counts_.sum().item<double>());
}

torch::Tensor CategoryStatistics::dprime() const {
  const int64_t classes = counts_.size(0);
  const double n = counts_.sum().item<double>();
  const at::Tensor total = sums_.sum(0), total_sq = squares_.sum(0);
  at::Tensor dprime =
      at::full(sums_.sizes(), std::numeric_limits<double>::quiet_NaN(), sums_.options());
  for (int64_t k = 0; k < classes; ++k) {
    const double n_in = counts_[k].item<double>(), n_out = n - n_in;
    if (n_in == 0 || n_out == 0) continue;
    const at::Tensor mean_in = sums_[k] / n_in;
    const at::Tensor mean_out = (total - sums_[k]) / n_out;
    const at::Tensor var_in = (squares_[k] / n_in - mean_in * mean_in).clamp_min(0);
    const at::Tensor var_out =
        ((total_sq - squares_[k]) / n_out - mean_out * mean_out).clamp_min(0);
    dprime[k] = (mean_in - mean_out) / at::sqrt(((var_in + var_out) / 2).clamp_min(1e-12));
  }
  return dprime;
}

torch::Tensor category_dprime(const torch::Tensor& responses, const torch::Tensor& labels,
                              int64_t num_classes) {
  if (responses.dim() != 2) {
    throw_runtime("category_dprime: expected responses [N, U], got {}",
                  c10::str(responses.sizes()));
  }
  CategoryStatistics statistics(num_classes, responses.size(1));
  statistics.add(responses, labels);
  return statistics.dprime();
}

Components find_patches(const torch::Tensor& map, const PatchOptions& options) {
  if (map.dim() != 2)
    throw_runtime("find_patches: expected a map [H, W], got {}", c10::str(map.sizes()));
  const at::Tensor values = map.detach().to(at::kDouble);
  // NaN compares false: undefined cells are never inside a patch.
  const Components all = connected_components(values > options.threshold, false);
  Components kept;
  // Old label → new label (0: dropped).
  std::vector<int64_t> relabel(all.components.size() + 1, 0);
  for (size_t i = 0; i < all.components.size(); ++i) {
    if (all.components[i].area < options.min_area) continue;
    kept.components.push_back(all.components[i]);
    relabel[i + 1] = static_cast<int64_t>(kept.components.size());
  }
  kept.labels = at::tensor(relabel, at::kLong).index({all.labels});
  return kept;
}

}  // namespace nosharing
