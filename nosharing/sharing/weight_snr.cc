#include "nosharing/sharing/weight_snr.h"

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/models/model.h"

namespace nosharing {
namespace {

double clamp_snr(double value) {
  // NaN cannot arise (0/0 is mapped to +inf below), +inf and huge values become the cap.
  return std::min(value, kMaxWeightSnr);
}

void check_weight(const torch::Tensor& weight, const char* who) {
  if (!weight.defined() || weight.dim() < 1 || weight.numel() == 0) {
    throw_runtime("{}: expected a non-empty weight [P, …]", who);
  }
}

// Columns per task of the fused kernel: the partial sums of a task are summed in task order,
// so the result does not depend on the number of threads.
constexpr int64_t kColumnsPerTask = 512;

// Both SNRs of rows [P, J] in two passes over the weight (column means, then squared
// deviations), accumulated in float64 per column without a float64 copy of the weight:
// a sleep phase measures every unshared layer before and after, every `sharing.every` steps.
// Deviations from the float64 mean make the variance exactly 0 when all positions agree.
template <typename T>
WeightSnr weight_snr_rows(const T* w, int64_t positions, int64_t columns, T* mean_out) {
  const int64_t tasks = (columns + kColumnsPerTask - 1) / kColumnsPerTask;
  std::vector<double> squared_sums(static_cast<size_t>(tasks)), abs_sums(squared_sums);
  std::vector<char> any_shared(static_cast<size_t>(tasks), 0);
  at::parallel_for(0, tasks, 1, [&](int64_t task_begin, int64_t task_end) NOSHARING_VECTORISED {
    std::vector<double> mean(kColumnsPerTask), deviation(kColumnsPerTask);
    for (int64_t task = task_begin; task < task_end; ++task) {
      const int64_t j0 = task * kColumnsPerTask;
      const int64_t n = std::min(kColumnsPerTask, columns - j0);
      std::fill(mean.begin(), mean.begin() + n, 0.0);
      std::fill(deviation.begin(), deviation.begin() + n, 0.0);
      for (int64_t i = 0; i < positions; ++i) {
        const T* row = w + i * columns + j0;
        for (int64_t j = 0; j < n; ++j) mean[static_cast<size_t>(j)] += row[j];
      }
      for (int64_t j = 0; j < n; ++j) {
        mean[static_cast<size_t>(j)] /= static_cast<double>(positions);
        mean_out[j0 + j] = static_cast<T>(mean[static_cast<size_t>(j)]);
      }
      for (int64_t i = 0; i < positions; ++i) {
        const T* row = w + i * columns + j0;
        for (int64_t j = 0; j < n; ++j) {
          const double d = static_cast<double>(row[j]) - mean[static_cast<size_t>(j)];
          deviation[static_cast<size_t>(j)] += d * d;
        }
      }
      double squared = 0, abs = 0;
      for (int64_t j = 0; j < n; ++j) {
        const double var = deviation[static_cast<size_t>(j)] / static_cast<double>(positions - 1);
        const double m = mean[static_cast<size_t>(j)];
        if (var <= 0) {
          any_shared[static_cast<size_t>(task)] = 1;
          continue;
        }
        squared += m * m / var;
        abs += std::abs(m) / std::sqrt(var);
      }
      squared_sums[static_cast<size_t>(task)] = squared;
      abs_sums[static_cast<size_t>(task)] = abs;
    }
  });
  // A weight index with variance exactly 0 is infinitely shared: the mean is then +inf.
  if (std::find(any_shared.begin(), any_shared.end(), 1) != any_shared.end()) {
    return {kMaxWeightSnr, kMaxWeightSnr};
  }
  double squared = 0, abs = 0;
  for (int64_t task = 0; task < tasks; ++task) {
    squared += squared_sums[static_cast<size_t>(task)];
    abs += abs_sums[static_cast<size_t>(task)];
  }
  const double j = static_cast<double>(columns);
  return {clamp_snr(squared / j), clamp_snr(abs / j)};
}

}  // namespace

WeightSnrAndMean weight_snr_and_mean(const torch::Tensor& weight) {
  check_weight(weight, "weight_snr");
  const int64_t positions = weight.size(0);
  const at::Tensor w = weight.detach().contiguous();
  WeightSnrAndMean out;
  out.mean = at::empty(w.sizes().slice(1), w.options());
  if (positions < 2) {
    out.mean.copy_(w.select(0, 0));
    out.snr = {kMaxWeightSnr, kMaxWeightSnr};
    return out;
  }
  const int64_t columns = w.numel() / positions;
  AT_DISPATCH_FLOATING_TYPES(w.scalar_type(), "weight_snr", [&] {
    out.snr = weight_snr_rows(w.data_ptr<scalar_t>(), positions, columns,
                              out.mean.data_ptr<scalar_t>());
  });
  return out;
}

WeightSnr weight_snr(const torch::Tensor& weight) { return weight_snr_and_mean(weight).snr; }

WeightSnr weight_snr_reference(const torch::Tensor& weight) {
  check_weight(weight, "weight_snr_reference");
  const int64_t positions = weight.size(0);
  if (positions < 2) return {kMaxWeightSnr, kMaxWeightSnr};
  const at::Tensor w = weight.detach().to(at::kDouble).reshape({positions, -1});
  const at::Tensor mean = w.mean(0);                     // [J]
  const at::Tensor var = w.var(0, /*unbiased=*/true);   // [J]
  const at::Tensor inf = at::full_like(var, std::numeric_limits<double>::infinity());
  const at::Tensor shared = var <= 0;
  const at::Tensor squared = at::where(shared, inf, mean.square() / var);
  const at::Tensor abs = at::where(shared, inf, mean.abs() / var.sqrt());
  return {clamp_snr(squared.mean().item<double>()), clamp_snr(abs.mean().item<double>())};
}

std::vector<std::pair<std::string, WeightSnr>> layer_weight_snrs(const ModelImpl& model) {
  std::vector<std::pair<std::string, WeightSnr>> out;
  for (const auto& [name, weight] : model.weight_snr_layers()) {
    out.emplace_back(name, weight.defined() ? weight_snr(weight)
                                            : WeightSnr{kMaxWeightSnr, kMaxWeightSnr});
  }
  return out;
}

}  // namespace nosharing
