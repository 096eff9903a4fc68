#include "nosharing/topography/spatial_correlation.h"

#include <torch/torch.h>

#include <map>
#include <utility>
#include <vector>

#include "nosharing/layers/response_tap.h"
#include "nosharing/topography/cpu/spatial_correlation_function.h"

namespace nosharing {
namespace {

// Centres and scales the columns of x [M, N] to unit norm over M: then z_iᵀ z_j is the
// Pearson correlation of columns i and j. (The reference's form; the fused function
// (cpu/spatial_correlation_function.h) does the same with ‖c‖ = √(Σ c² + 1e-12).)
torch::Tensor standardize_columns(const torch::Tensor& x) {
  const torch::Tensor centred = x - x.mean(0, /*keepdim=*/true);
  return centred / centred.pow(2).sum(0, /*keepdim=*/true).add(1e-12).sqrt();
}

void check_arguments(const torch::Tensor& responses, const torch::Tensor& distances) {
  TORCH_CHECK(responses.dim() == 2 && distances.dim() == 2 &&
                  distances.size(0) == responses.size(1) &&
                  distances.size(1) == responses.size(1),
              "spatial_correlation_loss: expected responses [B, N] and distances [N, N], got ",
              responses.sizes(), " and ", distances.sizes());
}

// The loss from the similarities S = 1/(d + 1) [m, m] of the units' points (already in the
// responses' dtype) and each unit's point, int64 [N].
torch::Tensor correlation_with_similarity(const torch::Tensor& responses,
                                          const torch::Tensor& similarity,
                                          const torch::Tensor& points) {
  const int64_t n = responses.size(1);
  if (n < 3) return torch::full({}, 0.5, responses.options());  // fewer than 2 pairs
  TORCH_CHECK(responses.device().is_cpu(), "spatial_correlation_loss: expected CPU responses, got ",
              responses.device());
  return pair_correlation_loss(responses.contiguous(), similarity.contiguous(),
                               points.contiguous());
}

// The distinct points among the units' coordinates [N, 2] (float64): each unit's point, int64
// [N], and the points [m, 2], in order of first appearance. A column sheet's channels share
// their position's point exactly.
std::pair<torch::Tensor, torch::Tensor> distinct_points(const torch::Tensor& coordinates) {
  const torch::Tensor c = coordinates.to(torch::kFloat64).contiguous();
  const int64_t n = c.size(0);
  const double* p = c.data_ptr<double>();
  torch::Tensor points = torch::empty({n}, torch::kInt64);
  int64_t* point = points.data_ptr<int64_t>();
  std::map<std::pair<double, double>, int64_t> index;
  std::vector<int64_t> first;  // a unit at each point
  for (int64_t i = 0; i < n; ++i) {
    const auto [it, inserted] =
        index.emplace(std::make_pair(p[2 * i], p[2 * i + 1]), static_cast<int64_t>(first.size()));
    if (inserted) first.push_back(i);
    point[i] = it->second;
  }
  return {points, c.index_select(0, torch::tensor(first, torch::kInt64))};
}


}  // namespace

torch::Tensor spatial_correlation_loss(const torch::Tensor& responses,
                                       const torch::Tensor& distances) {
  check_arguments(responses, distances);
  // Every unit its own point.
  return correlation_with_similarity(responses,
                                     1.0 / (distances.to(responses.scalar_type()) + 1.0),
                                     torch::arange(responses.size(1), torch::kInt64));
}

torch::Tensor spatial_correlation_loss_reference(const torch::Tensor& responses,
                                                 const torch::Tensor& distances) {
  check_arguments(responses, distances);
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
  // The neighbourhood's units (in (c, y, x) order) as [B, N]; their gradient goes through
  // the layer's response sink when the network tapped its responses (layers/response_tap.h).
  const torch::Tensor& responses = layer.responses;
  torch::Tensor total;
  for (int64_t i = 0; i < options_.neighbourhoods(); ++i) {
    const torch::Tensor units =
        layer.sheet.sample_neighbourhood(options_.radius(), options_.units());
    const torch::Tensor selected = gather_units(responses, units, layer.response_sink);
    const auto [points, coordinates] = distinct_points(layer.sheet.coordinates(units));
    const torch::Tensor loss = correlation_with_similarity(
        selected, similarity_from_coordinates(coordinates, responses.scalar_type()), points);
    total = total.defined() ? total + loss : loss;
  }
  return total / static_cast<double>(options_.neighbourhoods());
}

}  // namespace nosharing
