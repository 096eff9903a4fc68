#include "nosharing/topography/lateral_interaction.h"

#include <torch/torch.h>

#include <cmath>

namespace nosharing {

double lateral_centre_sigma(double spacing, double surround) {
  TORCH_CHECK(spacing > 2, "lateral_interaction: spacing ", spacing,
              " sheet cells; expected > 2");
  TORCH_CHECK(surround > 1, "lateral_interaction: surround ratio ", surround, "; expected > 1");
  const double r2 = surround * surround;
  return spacing * std::sqrt(2 * std::log(r2) / (r2 - 1)) / (2 * M_PI);
}

torch::Tensor gaussian_mean_matrix(int64_t cells, double sigma) {
  TORCH_CHECK(cells >= 1, "gaussian_mean_matrix: ", cells, " cells; expected >= 1");
  TORCH_CHECK(sigma > 0, "gaussian_mean_matrix: sigma ", sigma, "; expected > 0");
  const torch::Tensor index = torch::arange(cells, torch::kFloat64);
  const torch::Tensor distance = index.unsqueeze(1) - index.unsqueeze(0);
  torch::Tensor taps = torch::exp(-distance.pow(2) / (2 * sigma * sigma));
  taps = taps * (distance.abs() <= 4 * sigma).to(torch::kFloat64);
  return taps / taps.sum(1, /*keepdim=*/true);
}

torch::Tensor lateral_interaction_similarity(const torch::Tensor& x, double spacing,
                                             double surround) {
  TORCH_CHECK(x.dim() == 4, "lateral_interaction: expected grids [G, D, H, W], got ", x.sizes());
  const double centre = lateral_centre_sigma(spacing, surround);
  const int64_t height = x.size(2), width = x.size(3);
  const torch::Tensor n = x / x.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
  const auto mean = [&](double sigma) {
    const torch::Tensor rows = gaussian_mean_matrix(height, sigma).to(x.dtype());
    const torch::Tensor cols = gaussian_mean_matrix(width, sigma).to(x.dtype());
    return torch::matmul(torch::matmul(rows, n), cols.t());
  };
  return (n * (mean(centre) - mean(surround * centre))).sum(1).mean();
}

LateralInteractionLossImpl::LateralInteractionLossImpl(LateralInteractionLossOptions options)
    : options_(options) {
  lateral_centre_sigma(options_.spacing(), options_.surround());  // checks both
}

torch::Tensor LateralInteractionLossImpl::forward(const TopographicLayer& layer) {
  const torch::Tensor vectors = unit_weight_vectors(
      layer.weight, options_.include_bias() ? layer.bias : torch::Tensor());  // [U, D]
  const torch::Tensor grids = layer.sheet.grids();                            // [G, H, W]
  const torch::Tensor x = vectors.index_select(0, grids.reshape({-1}))
                              .view({grids.size(0), grids.size(1), grids.size(2), -1})
                              .permute({0, 3, 1, 2});  // [G, D, H, W]
  return (1 - lateral_interaction_similarity(x, options_.spacing(), options_.surround())) / 2;
}

}  // namespace nosharing
