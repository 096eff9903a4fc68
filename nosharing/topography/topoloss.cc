#include "nosharing/topography/topoloss.h"

#include <torch/nn/functional/upsampling.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "nosharing/topography/cpu/topoloss_function.h"

namespace nosharing {

torch::Tensor topoloss_blur(const torch::Tensor& grids, double factor) {
  TORCH_CHECK(grids.dim() == 4, "topoloss_blur: expected grids [G, D, H, W], got ", grids.sizes());
  namespace F = torch::nn::functional;
  const int64_t height = grids.size(2);
  const int64_t width = grids.size(3);
  const auto shrink = [factor](int64_t side) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::floor(side / factor)));
  };
  const torch::Tensor down = F::interpolate(
      grids, F::InterpolateFuncOptions()
                 .size(std::vector<int64_t>{shrink(height), shrink(width)})
                 .mode(torch::kBilinear)
                 .align_corners(false));
  return F::interpolate(down, F::InterpolateFuncOptions()
                                  .size(std::vector<int64_t>{height, width})
                                  .mode(torch::kBilinear)
                                  .align_corners(false));
}

TopoLossImpl::TopoLossImpl(TopoLossOptions options) : options_(options) {
  TORCH_CHECK(options_.factor() >= 1, "topoloss: factor ", options_.factor(), "; expected >= 1");
}

const std::shared_ptr<const BlurredCosineGeometry>& TopoLossImpl::geometry_of(
    const TopographicLayer& layer) {
  // The geometry depends only on the sheet and the weight's shape: built once per layer.
  const auto key = std::make_tuple(layer.name, layer.weight.size(0), layer.weight.size(1));
  auto cached = geometries_.find(key);
  if (cached == geometries_.end()) {
    auto geometry = std::make_shared<const BlurredCosineGeometry>(blurred_cosine_geometry(
        layer.sheet, layer.weight.size(0), layer.weight.size(1), options_.factor()));
    cached = geometries_.emplace(key, std::move(geometry)).first;
  }
  return cached->second;
}

torch::Tensor TopoLossImpl::forward(const TopographicLayer& layer) {
  return 1 - blurred_cosine(layer.weight, geometry_of(layer));
}

double TopoLossImpl::add_gradients(const TopographicLayer& layer, double scale,
                                   const torch::Tensor& grad_weight,
                                   const torch::Tensor& /*grad_bias: no bias*/) {
  // L = 1 − S: ∂L = −∂S.
  return 1 - blurred_cosine_add_gradients(layer.weight, *geometry_of(layer), -scale,
                                          grad_weight);
}

torch::Tensor topoloss_reference(const TopographicLayer& layer, double factor) {
  const torch::Tensor vectors = unit_weight_vectors(layer.weight, torch::Tensor());  // [U, D]
  const torch::Tensor grids = layer.sheet.grids();                                  // [G, H, W]
  const torch::Tensor g = vectors.index_select(0, grids.reshape({-1}))
                              .view({grids.size(0), grids.size(1), grids.size(2), -1})
                              .permute({0, 3, 1, 2});  // [G, D, H, W]
  const torch::Tensor blurred = topoloss_blur(g, factor);
  // Cosine over D per unit, with F.normalize's ε so that zero kernels give 0, not NaN.
  const auto unit_norm = [](const torch::Tensor& x) {
    return x / x.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
  };
  return 1 - (unit_norm(g) * unit_norm(blurred)).sum(1).mean();
}

}  // namespace nosharing
