#include "nosharing/topography/kernel_smoothness.h"

#include <torch/torch.h>

namespace nosharing {

torch::Tensor mean_neighbour_cosine(const TopographicLayer& layer, bool include_bias) {
  const torch::Tensor vectors =
      normalize_rows(unit_weight_vectors(layer.weight, include_bias ? layer.bias : torch::Tensor()));
  const torch::Tensor grids = layer.sheet.grids();  // [G, Hg, Wg]
  const int64_t rows = grids.size(1);
  const int64_t cols = grids.size(2);
  // Unit vectors laid out on the grids: [G, Hg, Wg, D].
  const torch::Tensor v = vectors.index_select(0, grids.reshape({-1}))
                              .view({grids.size(0), rows, cols, vectors.size(1)});
  std::vector<torch::Tensor> directions;
  if (rows > 1) {
    directions.push_back((v.narrow(1, 0, rows - 1) * v.narrow(1, 1, rows - 1)).sum(-1).mean());
  }
  if (cols > 1) {
    directions.push_back((v.narrow(2, 0, cols - 1) * v.narrow(2, 1, cols - 1)).sum(-1).mean());
  }
  if (directions.empty()) return torch::ones({}, vectors.options());
  return torch::stack(directions).mean();
}

torch::Tensor KernelSmoothnessLossImpl::forward(const TopographicLayer& layer) {
  return (1 - mean_neighbour_cosine(layer, options_.include_bias())) / 2;
}

}  // namespace nosharing
