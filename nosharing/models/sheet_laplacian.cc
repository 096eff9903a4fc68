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

SheetStencil sheet_stencil(int64_t side, double radius, double sigma) {
  if (side < 1) throw_usage("wlsc sheet side = {}: expected ≥ 1", side);
  if (!(radius >= 1)) throw_usage("wlsc.radius = {}: expected ≥ 1 (grid units)", radius);
  if (!(sigma > 0)) throw_usage("wlsc.sigma = {}: expected > 0 (grid units)", sigma);
  // The same rule as sheet_neighbour_weights: 0 < d ≤ radius (+1e-9 for d² = r² exactly).
  const int64_t r = static_cast<int64_t>(std::floor(radius + 1e-9));
  const int64_t k = 2 * r + 1;
  torch::Tensor kernel = torch::zeros({k, k}, torch::kFloat64);
  auto a = kernel.accessor<double, 2>();
  for (int64_t dy = -r; dy <= r; ++dy) {
    for (int64_t dx = -r; dx <= r; ++dx) {
      const double d2 = static_cast<double>(dy * dy + dx * dx);
      if (d2 > 0 && d2 <= radius * radius + 1e-9) a[dy + r][dx + r] = std::exp(-d2 / (2 * sigma * sigma));
    }
  }
  SheetStencil stencil;
  stencil.side = side;
  stencil.kernel = kernel.view({1, 1, k, k});
  const torch::Tensor ones = torch::ones({1, 1, side, side}, torch::kFloat64);
  stencil.degree =
      at::conv2d(ones, stencil.kernel, {}, 1, r).reshape({side * side});
  return stencil;
}

torch::Tensor apply_sheet_laplacian(const torch::Tensor& codes, const SheetStencil& stencil) {
  const int64_t b = codes.size(0), side = stencil.side;
  TORCH_CHECK(codes.dim() == 2 && codes.size(1) == side * side, "apply_sheet_laplacian: codes ",
              codes.sizes(), " for a ", side, "×", side, " sheet (expected [B, ", side * side, "])");
  const torch::Tensor kernel = stencil.kernel.to(codes.dtype());
  const int64_t pad = (kernel.size(-1) - 1) / 2;
  // W is symmetric (W(−o) = W(o)), so correlation and convolution agree.
  const torch::Tensor wx =
      at::conv2d(codes.reshape({b, 1, side, side}), kernel, {}, 1, pad).reshape({b, side * side});
  return codes * stencil.degree.to(codes.dtype()) - wx;
}

torch::Tensor code_laplacian_form(const torch::Tensor& codes, const SheetStencil& stencil) {
  return (apply_sheet_laplacian(codes, stencil) * codes).sum(1);
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
