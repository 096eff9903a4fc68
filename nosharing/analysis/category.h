// Category selectivity (DESIGN §5): d′ per unit and class, and category patches.
//
//   d′_{k,u} = (μ_in − μ_out) / √((σ_in² + σ_out²)/2),
// μ/σ² the mean and (population) variance of unit u's response over the images of class k
// (in) and over all other images (out). Patches are the 4-connected regions of a grid map
// where d′ exceeds `threshold` (All-TNN, Lu et al.: 0.85), counting only regions of at least
// `min_area` cells.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "nosharing/analysis/connected_components.h"

namespace nosharing {

// Per-class sums of responses and of their squares, added batch by batch, so that a
// validation set need not fit in memory (float64).
class CategoryStatistics {
 public:
  CategoryStatistics(int64_t num_classes, int64_t units);
  // responses [B, U], labels int64 [B] in [0, K) (other labels are a RuntimeError).
  void add(const torch::Tensor& responses, const torch::Tensor& labels);
  // d′ float64 [K, U], as category_dprime below.
  torch::Tensor dprime() const;
  int64_t images() const;

 private:
  torch::Tensor sums_;     // [K, U]
  torch::Tensor squares_;  // [K, U]
  torch::Tensor counts_;   // [K]
};

// responses [N, U], labels int64 [N] in [0, K) → d′ float64 [K, U]. A class with no image
// (or every image in one class) gives NaN rows; σ_in = σ_out = 0 uses a floor of 1e-12 on the
// pooled variance.
torch::Tensor category_dprime(const torch::Tensor& responses, const torch::Tensor& labels,
                              int64_t num_classes);

struct PatchOptions {
  double threshold = 0.85;
  int64_t min_area = 2;  // cells
};

// map [H, W] (d′ of one class on a grid) → its patches (labels renumbered 1 … count, cells
// of too small regions set to 0).
Components find_patches(const torch::Tensor& map, const PatchOptions& options = {});

}  // namespace nosharing
