#include "nosharing/topography/kernel_smoothness.h"

#include <torch/torch.h>

#include "nosharing/topography/cpu/kernel_smoothness_function.h"

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

torch::Tensor channel_coverage(const torch::Tensor& weight, const torch::Tensor& bias) {
  TORCH_CHECK(weight.dim() == 3, "channel_coverage: expected weight [P, C, D], got ",
              weight.sizes());
  const int64_t positions = weight.size(0), channels = weight.size(1);
  if (channels < 2) return torch::zeros({}, weight.options());
  torch::Tensor v = bias.defined() ? torch::cat({weight, bias.unsqueeze(-1)}, -1) : weight;
  v = v / v.norm(2, -1, true).clamp_min(1e-12);         // [P, C, D (+1)]
  const torch::Tensor gram = torch::bmm(v, v.transpose(1, 2));  // [P, C, C]
  // Off-diagonal squares: the diagonal of a unit vector's Gram matrix is 1 (0 for a zero one).
  const torch::Tensor diagonal = gram.diagonal(0, 1, 2);
  const torch::Tensor off = gram.pow(2).sum({1, 2}) - diagonal.pow(2).sum(1);
  return off.sum() / static_cast<double>(positions * channels * (channels - 1));
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
  const torch::Tensor bias = options_.include_bias() ? layer.bias : torch::Tensor();
  const torch::Tensor s = neighbour_cosine(layer.weight, bias, pairs_of(layer));
  if (options_.coverage() == 0) return (1 - s) / 2;
  return (1 - s) / 2 + options_.coverage() * channel_coverage(layer.weight, bias);
}

double KernelSmoothnessLossImpl::add_gradients(const TopographicLayer& layer, double scale,
                                               const torch::Tensor& grad_weight,
                                               const torch::Tensor& grad_bias) {
  // L = (1 − S) / 2: ∂L = −½ ∂S.
  const torch::Tensor bias = options_.include_bias() ? layer.bias : torch::Tensor();
  const double s = neighbour_cosine_add_gradients(layer.weight, bias, pairs_of(layer),
                                                  -scale / 2, grad_weight, grad_bias);
  double loss = (1 - s) / 2;
  if (options_.coverage() != 0) {
    // The coverage term is small ([P, C, C] Gram matrices): its gradient through autograd on
    // detached leaves, added in place.
    torch::AutoGradMode enable(true);
    const torch::Tensor w = layer.weight.detach().requires_grad_(true);
    const torch::Tensor b = bias.defined() ? bias.detach().requires_grad_(true) : torch::Tensor();
    const torch::Tensor c = channel_coverage(w, b);
    const std::vector<torch::Tensor> inputs =
        b.defined() ? std::vector<torch::Tensor>{w, b} : std::vector<torch::Tensor>{w};
    const auto grads = torch::autograd::grad({c}, inputs);
    torch::NoGradGuard no_grad;
    grad_weight.add_(grads[0], scale * options_.coverage());
    if (b.defined() && grad_bias.defined()) grad_bias.add_(grads[1], scale * options_.coverage());
    loss += options_.coverage() * c.item<double>();
  }
  return loss;
}

}  // namespace nosharing
