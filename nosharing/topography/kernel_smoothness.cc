#include "nosharing/topography/kernel_smoothness.h"

#include <torch/torch.h>

#include "nosharing/topography/neighbour_cosine.h"

namespace nosharing {

torch::Tensor mean_neighbour_cosine(const TopographicLayer& layer, bool include_bias) {
  const NeighbourPairs pairs =
      neighbour_pairs(layer.sheet, layer.weight.size(0), layer.weight.size(1));
  return neighbour_cosine(layer.weight, include_bias ? layer.bias : torch::Tensor(), pairs);
}

torch::Tensor mean_neighbour_cosine_reference(const TopographicLayer& layer, bool include_bias) {
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

const NeighbourPairs& KernelSmoothnessLossImpl::pairs_of(const TopographicLayer& layer) {
  // The pairs depend only on the sheet and the weight's shape: built once per layer.
  const auto key = std::make_tuple(layer.name, layer.weight.size(0), layer.weight.size(1));
  auto cached = pairs_.find(key);
  if (cached == pairs_.end()) {
    cached = pairs_
                 .emplace(key, neighbour_pairs(layer.sheet, layer.weight.size(0),
                                               layer.weight.size(1)))
                 .first;
  }
  return cached->second;
}

torch::Tensor KernelSmoothnessLossImpl::forward(const TopographicLayer& layer) {
  const torch::Tensor s = neighbour_cosine(
      layer.weight, options_.include_bias() ? layer.bias : torch::Tensor(), pairs_of(layer));
  return (1 - s) / 2;
}

double KernelSmoothnessLossImpl::add_gradients(const TopographicLayer& layer, double scale,
                                               const torch::Tensor& grad_weight,
                                               const torch::Tensor& grad_bias) {
  // L = (1 − S) / 2: ∂L = −½ ∂S.
  const double s = neighbour_cosine_add_gradients(
      layer.weight, options_.include_bias() ? layer.bias : torch::Tensor(), pairs_of(layer),
      -scale / 2, grad_weight, grad_bias);
  return (1 - s) / 2;
}

}  // namespace nosharing
