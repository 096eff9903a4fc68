#include "nosharing/topography/infonce.h"

#include "nosharing/topography/cpu/infonce_function.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>
#include <vector>

namespace nosharing {
namespace {

const torch::TensorOptions kLong = torch::TensorOptions().dtype(torch::kInt64);

// Anchors image-major: m = min(P, ⌈√count⌉) distinct positions in each of
// n = min(B, ⌈count / m⌉) images drawn without replacement (one random m-subset of the
// positions, shifted cyclically by a random offset per image), the first `count` of the n·m
// columns (all B·P when count ≥ B·P). Few images with many anchors each keep the neighbour
// mixing to a few images (infonce_function.h); uniform draws over B·P would touch every
// image of the batch.
torch::Tensor sample_anchors(int64_t batch, int64_t positions, int64_t count) {
  if (count >= batch * positions) return torch::arange(batch * positions, kLong);
  const auto root = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int64_t per_image = std::min(positions, root);
  const int64_t images = std::min(batch, (count + per_image - 1) / per_image);
  const torch::Tensor chosen = sample_distinct(batch, images);
  // m distinct positions per image: one random m-subset of the positions, cyclically shifted
  // by a random offset in each image (a sort of B·P random keys per step cost more than the
  // loss itself).
  const torch::Tensor subset = sample_distinct(positions, per_image);
  const torch::Tensor shifts = torch::randint(positions, {images, 1}, kLong);
  const torch::Tensor spots = (subset.unsqueeze(0) + shifts).remainder(positions);
  const torch::Tensor all = (chosen.unsqueeze(1) * positions + spots).reshape({-1});
  return all.narrow(0, 0, std::min(count, all.size(0)));
}

}  // namespace

torch::Tensor sample_distinct(int64_t total, int64_t count) {
  TORCH_CHECK(total >= 0 && count >= 0, "sample_distinct: total ", total, " and count ", count,
              " must be >= 0");
  if (count >= total) return torch::arange(total, kLong);
  // Floyd's algorithm (Bentley & Floyd, CACM 1987): for j = total − count, …, total − 1 draw
  // t uniform in [0, j] and take t, or j when t is already taken (j never is: every earlier
  // draw was < j). Every count-subset is equally likely, at O(count) cost.
  const torch::Tensor uniform = torch::rand({count}, torch::kFloat64);
  const double* u = uniform.data_ptr<double>();
  std::unordered_set<int64_t> taken;
  taken.reserve(static_cast<size_t>(2 * count));
  torch::Tensor out = torch::empty({count}, kLong);
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = total - count + i;
    int64_t t = std::min(j, static_cast<int64_t>(u[i] * static_cast<double>(j + 1)));
    if (!taken.insert(t).second) {
      t = j;
      taken.insert(t);
    }
    o[i] = t;
  }
  return out;
}

torch::Tensor infonce_neighbour_weights(int64_t height, int64_t width, double sigma) {
  const torch::Tensor positions = position_coordinates(height, width);
  const torch::Tensor d2 = pairwise_distances(positions, positions).pow(2);
  torch::Tensor logits = -d2 / (2 * sigma * sigma);
  logits.fill_diagonal_(-std::numeric_limits<double>::infinity());
  return torch::softmax(logits, 1);
}

namespace {

torch::Tensor unit_rows(const torch::Tensor& x) {
  return x / x.norm(2, /*dim=*/-1, /*keepdim=*/true).clamp_min(1e-12);
}

void check_infonce_arguments(const torch::Tensor& columns, const torch::Tensor& weights) {
  TORCH_CHECK(columns.dim() == 3 && weights.dim() == 2 && weights.size(0) == columns.size(1) &&
                  weights.size(1) == columns.size(1),
              "infonce_loss: expected columns [B, P, C] and weights [P, P], got ",
              columns.sizes(), " and ", weights.sizes());
}

// The rest of L from the normalised anchors ẑ_a [A, C], their targets t_a [A, C] and the
// normalised negatives [N, C]; anchors and negatives index the B·P columns (b·P + p).
torch::Tensor infonce_from_targets(const torch::Tensor& anchor_z, const torch::Tensor& anchor_t,
                                   const torch::Tensor& negative_z, const torch::Tensor& anchors,
                                   const torch::Tensor& negatives, int64_t positions, double tau) {
  const torch::Tensor positive = (anchor_z * anchor_t).sum(1, /*keepdim=*/true) / tau;  // [A, 1]
  torch::Tensor negative = anchor_z.mm(negative_z.t()) / tau;                           // [A, N]
  const torch::Tensor same_image =
      anchors.div(positions, "floor").unsqueeze(1) == negatives.div(positions, "floor").unsqueeze(0);
  negative = negative.masked_fill(same_image, -std::numeric_limits<double>::infinity());
  const torch::Tensor logits = torch::cat({positive, negative}, 1);
  return (torch::logsumexp(logits, 1) - positive.squeeze(1)).mean();
}

}  // namespace

torch::Tensor infonce_loss_reference(const torch::Tensor& columns, const torch::Tensor& weights,
                                     const torch::Tensor& anchors, const torch::Tensor& negatives,
                                     double tau) {
  check_infonce_arguments(columns, weights);
  const int64_t positions = columns.size(1);
  const int64_t batch = columns.size(0);
  const int64_t channels = columns.size(2);
  const torch::Tensor z = unit_rows(columns);  // [B, P, C]
  // Σ_j W_ij ẑ_bj for every (b, i) as one GEMM, W [P, P] × ẑ as [P, B·C] (row i·B + b of the
  // result viewed [P·B, C]); only the anchors' rows are normalised into targets.
  const torch::Tensor mixed = weights.to(z.scalar_type())
                                  .mm(z.transpose(0, 1).reshape({positions, batch * channels}))
                                  .view({positions * batch, channels});
  const torch::Tensor anchor_rows =
      anchors.remainder(positions) * batch + anchors.div(positions, "floor");
  const torch::Tensor z_flat = z.reshape({-1, channels});
  return infonce_from_targets(z_flat.index_select(0, anchors),
                              unit_rows(mixed.index_select(0, anchor_rows)),
                              z_flat.index_select(0, negatives), anchors, negatives, positions,
                              tau);
}

torch::Tensor infonce_loss(const torch::Tensor& columns, const torch::Tensor& weights,
                           const torch::Tensor& anchors, const torch::Tensor& negatives,
                           double tau, std::shared_ptr<ResponseGradientSink> sink) {
  return infonce_loss_fused(columns, weights, anchors, negatives, tau, std::move(sink));
}

torch::Tensor sampled_infonce_loss(const torch::Tensor& columns, const torch::Tensor& weights,
                                   const InfoNceLossOptions& options,
                                   std::shared_ptr<ResponseGradientSink> sink) {
  TORCH_CHECK(columns.dim() == 3, "infonce: expected columns [B, P, C], got ", columns.sizes());
  if (columns.size(1) < 2) return torch::zeros({}, columns.options());
  const int64_t total = columns.size(0) * columns.size(1);
  return infonce_loss(columns, weights,
                      sample_anchors(columns.size(0), columns.size(1), options.anchors()),
                      sample_distinct(total, options.negatives()), options.tau(), std::move(sink));
}

InfoNceLossImpl::InfoNceLossImpl(InfoNceLossOptions options) : options_(options) {
  check_infonce_options(options_);
}

torch::Tensor InfoNceLossImpl::forward(const TopographicLayer& layer) {
  const torch::Tensor& responses = layer.responses;
  TORCH_CHECK(responses.defined() && responses.dim() == 4,
              "infonce: layer ", layer.name, " has no recorded responses [B, C, H, W]");
  const int64_t height = responses.size(2);
  const int64_t width = responses.size(3);
  if (height * width < 2) return torch::zeros({}, responses.options());
  const torch::Tensor columns = responses.flatten(2).transpose(1, 2);  // [B, P, C] view
  auto cached = neighbour_weights_.find({height, width});
  if (cached == neighbour_weights_.end()) {
    cached = neighbour_weights_
                 .emplace(std::make_pair(height, width),
                          infonce_neighbour_weights(height, width, options_.sigma())
                              .to(responses.scalar_type()))
                 .first;
  }
  // Cached in the dtype of the first call; .to() is free unless a later call differs.
  return sampled_infonce_loss(columns, cached->second.to(responses.scalar_type()), options_,
                              layer.response_sink);
}

}  // namespace nosharing
