#include "nosharing/topography/spatial_correlation.h"

#include <torch/torch.h>

namespace nosharing {
namespace {

// Centres and scales the columns of x [M, N] to unit norm over M: then z_iᵀ z_j is the
// Pearson correlation of columns i and j.
torch::Tensor standardize_columns(const torch::Tensor& x) {
  const torch::Tensor centred = x - x.mean(0, /*keepdim=*/true);
  return centred / centred.pow(2).sum(0, /*keepdim=*/true).add(1e-12).sqrt();
}

}  // namespace

torch::Tensor spatial_correlation_loss(const torch::Tensor& responses,
                                       const torch::Tensor& distances) {
  TORCH_CHECK(responses.dim() == 2 && distances.dim() == 2 &&
                  distances.size(0) == responses.size(1) &&
                  distances.size(1) == responses.size(1),
              "spatial_correlation_loss: expected responses [B, N] and distances [N, N], got ",
              responses.sizes(), " and ", distances.sizes());
  const int64_t n = responses.size(1);
  const torch::Tensor z = standardize_columns(responses);
  const torch::Tensor r = z.t().mm(z);  // [N, N] response correlations
  const torch::Tensor s = 1.0 / (distances.to(responses.scalar_type()) + 1.0);
  const torch::Tensor lower = torch::tril_indices(n, n, /*offset=*/-1,
                                                  torch::TensorOptions().dtype(torch::kInt64));
  const torch::Tensor flat = lower[0] * n + lower[1];
  const torch::Tensor pairs =
      torch::stack({r.reshape({-1}).index_select(0, flat), s.reshape({-1}).index_select(0, flat)},
                   1);  // [pairs, 2]
  if (pairs.size(0) < 2) return torch::full({}, 0.5, responses.options());
  const torch::Tensor zp = standardize_columns(pairs);
  return (1 - (zp.select(1, 0) * zp.select(1, 1)).sum()) / 2;
}

SpatialCorrelationLossImpl::SpatialCorrelationLossImpl(SpatialCorrelationLossOptions options)
    : options_(options) {
  TORCH_CHECK(options_.units() >= 2 && options_.neighbourhoods() >= 1 && options_.radius() > 0,
              "spatial_correlation: units ", options_.units(), ", neighbourhoods ",
              options_.neighbourhoods(), ", radius ", options_.radius(),
              "; expected units >= 2, neighbourhoods >= 1, radius > 0");
}

torch::Tensor SpatialCorrelationLossImpl::forward(const TopographicLayer& layer) {
  TORCH_CHECK(layer.responses.defined() && layer.responses.dim() == 4,
              "spatial_correlation: layer ", layer.name, " has no recorded responses [B, C, H, W]");
  const torch::Tensor flat = layer.responses.flatten(1);  // [B, U], units in (c, y, x) order
  torch::Tensor total;
  for (int64_t i = 0; i < options_.neighbourhoods(); ++i) {
    const torch::Tensor units =
        layer.sheet.sample_neighbourhood(options_.radius(), options_.units());
    const torch::Tensor loss =
        spatial_correlation_loss(flat.index_select(1, units), layer.sheet.distances(units));
    total = total.defined() ? total + loss : loss;
  }
  return total / static_cast<double>(options_.neighbourhoods());
}

}  // namespace nosharing
