#include "nosharing/models/sheet_laplacian.h"

#include <ATen/ATen.h>

#include <cmath>

#include "nosharing/core/error.h"

namespace nosharing {

torch::Tensor sheet_neighbour_weights(int64_t side, double radius, double sigma) {
  if (side < 1) throw_usage("wlsc sheet side = {}: expected ≥ 1", side);
  if (!(radius >= 1)) throw_usage("wlsc.radius = {}: expected ≥ 1 (grid units)", radius);
  if (!(sigma > 0)) throw_usage("wlsc.sigma = {}: expected > 0 (grid units)", sigma);
  const int64_t n = side * side;
  torch::Tensor w = torch::zeros({n, n}, torch::kFloat64);
  auto a = w.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const double dy = static_cast<double>(i / side - j / side);
      const double dx = static_cast<double>(i % side - j % side);
      const double d2 = dy * dy + dx * dx;
      if (i != j && d2 <= radius * radius + 1e-9) a[i][j] = std::exp(-d2 / (2 * sigma * sigma));
    }
  }
  return w;
}

torch::Tensor graph_laplacian(const torch::Tensor& weights) {
  return torch::diag(weights.sum(1)) - weights;
}

double laplacian_max_eigenvalue(const torch::Tensor& laplacian) {
  return at::linalg_eigvalsh(laplacian.to(torch::kFloat64)).max().item<double>();
}

torch::Tensor atom_laplacian_form(const torch::Tensor& dictionary, const torch::Tensor& laplacian) {
  return (dictionary.mm(laplacian) * dictionary).sum();
}

torch::Tensor code_laplacian_form(const torch::Tensor& codes, const torch::Tensor& laplacian) {
  return (codes.mm(laplacian) * codes).sum(1);
}

torch::Tensor bipartite_form(const torch::Tensor& data, const torch::Tensor& dictionary,
                             const torch::Tensor& codes) {
  const torch::Tensor distances = data.pow(2).sum(1, true) - 2 * data.mm(dictionary) +
                                  dictionary.pow(2).sum(0, true);  // [B, N]
  return (codes * distances).sum(1);
}

torch::Tensor atom_laplacian_form_reference(const torch::Tensor& dictionary,
                                            const torch::Tensor& weights) {
  const int64_t n = weights.size(0);
  torch::Tensor total = torch::zeros({}, dictionary.options());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      const double w = weights[i][j].item<double>();
      if (w == 0) continue;
      total = total + w * (dictionary.select(1, i) - dictionary.select(1, j)).pow(2).sum();
    }
  }
  return total;
}

torch::Tensor code_laplacian_form_reference(const torch::Tensor& codes,
                                            const torch::Tensor& weights) {
  const int64_t n = weights.size(0);
  torch::Tensor total = torch::zeros({codes.size(0)}, codes.options());
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      const double w = weights[i][j].item<double>();
      if (w == 0) continue;
      total = total + w * (codes.select(1, i) - codes.select(1, j)).pow(2);
    }
  }
  return total;
}

torch::Tensor bipartite_form_reference(const torch::Tensor& data, const torch::Tensor& dictionary,
                                       const torch::Tensor& codes) {
  torch::Tensor total = torch::zeros({data.size(0)}, data.options());
  for (int64_t j = 0; j < dictionary.size(1); ++j) {
    total = total + codes.select(1, j) * (data - dictionary.select(1, j).view({1, -1})).pow(2).sum(1);
  }
  return total;
}

}  // namespace nosharing
