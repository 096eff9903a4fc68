#include "nosharing/analysis/orientation_clusters.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nosharing/core/error.h"
#include "nosharing/core/json_number.h"

namespace nosharing {
namespace {


// Bin of every cell (−1 for NaN), int64 [H, W] contiguous.
at::Tensor orientation_bins(const torch::Tensor& theta, int64_t bins, const char* who) {
  if (theta.dim() != 2 || theta.numel() == 0) {
    throw_runtime("{}: expected an orientation map [H, W], got {}", who, c10::str(theta.sizes()));
  }
  if (bins < 2) throw_usage("{}: {} orientation bins: expected ≥ 2", who, bins);
  const at::Tensor t = at::remainder(theta.detach().to(at::kDouble), M_PI);
  const at::Tensor bin =
      at::floor(t / (M_PI / static_cast<double>(bins))).clamp(0, bins - 1).to(at::kLong);
  return at::where(at::isfinite(t), bin, at::full_like(bin, -1)).contiguous();
}

}  // namespace

double orientation_cluster_size(const torch::Tensor& theta, const ClusterOptions& options) {
  const at::Tensor bins = orientation_bins(theta, options.orientation_bins, "cluster size");
  const int64_t h = bins.size(0), w = bins.size(1);
  const int64_t* b = bins.data_ptr<int64_t>();
  // Offsets in order of distance, out to the map's diagonal.
  struct Offset {
    int64_t dy, dx;
    double distance;
  };
  std::vector<Offset> offsets;
  for (int64_t dy = -(h - 1); dy <= h - 1; ++dy) {
    for (int64_t dx = -(w - 1); dx <= w - 1; ++dx) {
      offsets.push_back({dy, dx, std::hypot(static_cast<double>(dy), static_cast<double>(dx))});
    }
  }
  std::stable_sort(offsets.begin(), offsets.end(),
                   [](const Offset& a, const Offset& c) { return a.distance < c.distance; });
  const at::Tensor valid = (bins >= 0).view(-1).nonzero().view(-1);
  auto generator = at::detail::createCPUGenerator(options.seed);
  const at::Tensor cells =
      valid.index_select(0, at::randperm(valid.size(0), generator, at::TensorOptions().dtype(at::kLong))
                                .slice(0, 0, options.samples));
  double total = 0;
  int64_t counted = 0;
  std::vector<char> seen(static_cast<size_t>(options.orientation_bins));
  for (int64_t i = 0; i < cells.size(0); ++i) {
    const int64_t cell = cells[i].item<int64_t>(), y = cell / w, x = cell % w;
    std::fill(seen.begin(), seen.end(), 0);
    int64_t distinct = 0;
    for (const Offset& o : offsets) {
      const int64_t yy = y + o.dy, xx = x + o.dx;
      if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
      const int64_t bin = b[yy * w + xx];
      if (bin < 0 || seen[bin]) continue;
      seen[bin] = 1;
      if (++distinct == options.orientation_bins) {
        total += o.distance;
        ++counted;
        break;
      }
    }
  }
  return counted ? total / static_cast<double>(counted) : kNan;
}

double local_orientation_entropy(const torch::Tensor& theta, const ClusterOptions& options) {
  const at::Tensor bins = orientation_bins(theta, options.orientation_bins, "local entropy");
  if (options.window < 1) throw_usage("local entropy: window {}: expected ≥ 1", options.window);
  const int64_t h = bins.size(0), w = bins.size(1), s = options.window;
  const int64_t* b = bins.data_ptr<int64_t>();
  std::vector<int64_t> histogram(static_cast<size_t>(options.orientation_bins));
  double total = 0;
  int64_t tiles = 0;
  for (int64_t y0 = 0; y0 + s <= h; y0 += s) {
    for (int64_t x0 = 0; x0 + s <= w; x0 += s) {
      std::fill(histogram.begin(), histogram.end(), 0);
      int64_t n = 0;
      for (int64_t y = y0; y < y0 + s; ++y) {
        for (int64_t x = x0; x < x0 + s; ++x) {
          if (b[y * w + x] >= 0) {
            ++histogram[b[y * w + x]];
            ++n;
          }
        }
      }
      if (2 * n < s * s) continue;
      double entropy = 0;
      for (int64_t count : histogram) {
        if (count == 0) continue;
        const double p = static_cast<double>(count) / static_cast<double>(n);
        entropy -= p * std::log2(p);
      }
      total += entropy;
      ++tiles;
    }
  }
  return tiles ? total / static_cast<double>(tiles) : kNan;
}

}  // namespace nosharing
