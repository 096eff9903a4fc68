#include "nosharing/topography/infonce.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace nosharing {
namespace {

const torch::TensorOptions kLong = torch::TensorOptions().dtype(torch::kInt64);

// Up to `count` of [0, total) without replacement; all of them, in order, when count ≥ total.
torch::Tensor sample_indices(int64_t total, int64_t count) {
  if (count >= total) return torch::arange(total, kLong);
  return torch::randperm(total, kLong).narrow(0, 0, count);
}

// Anchors image-major: m = min(P, ⌈√count⌉) positions without replacement in each of
// n = min(B, ⌈count / m⌉) images drawn without replacement, the first `count` of the n·m
// columns (all B·P when count ≥ B·P). Few images with many anchors each keep the neighbour
// mixing one small batched GEMM (infonce_loss); uniform draws over B·P would touch every
// image of the batch.
torch::Tensor sample_anchors(int64_t batch, int64_t positions, int64_t count) {
  if (count >= batch * positions) return torch::arange(batch * positions, kLong);
  const auto root = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(count))));
  const int64_t per_image = std::min(positions, root);
  const int64_t images = std::min(batch, (count + per_image - 1) / per_image);
  const torch::Tensor chosen = torch::randperm(batch, kLong).narrow(0, 0, images);
  std::vector<torch::Tensor> parts;
  for (int64_t i = 0; i < images; ++i) {
    parts.push_back(chosen[i] * positions +
                    torch::randperm(positions, kLong).narrow(0, 0, per_image));
  }
  const torch::Tensor all = torch::cat(parts);
  return all.narrow(0, 0, std::min(count, all.size(0)));
}

}  // namespace

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

// Rows (b_n, p_n) of columns [B, P, C] → [N, C], gathered so that the gradient comes back in
// the memory layout of `columns`: contiguous for the Mapformer's [B, L, D], channel-major for a
// [B, C, H, W] layer seen as [B, P, C]. A gather's backward writes into fresh contiguous zeros
// of the tensor it gathered from, so it must gather from the layout's own order; otherwise a
// layer's gradient turns channels-last, and every later ReLU and BatchNorm backward runs on
// mixed layouts, measured ~14× slower (1.8 ms against 0.13 ms for fmnist-lc's lc1).
torch::Tensor gather_columns(const torch::Tensor& columns, const torch::Tensor& b,
                             const torch::Tensor& p) {
  const int64_t positions = columns.size(1), channels = columns.size(2);
  const torch::Tensor channel_major = columns.transpose(1, 2);  // [B, C, P]
  if (!columns.is_contiguous() && channel_major.is_contiguous()) {
    // [b, :, p] with the channel dimension unindexed (nullopt), not a slice: a slice op's
    // backward would write one more full-size zero tensor.
    return at::index(channel_major, c10::List<c10::optional<at::Tensor>>({b, c10::nullopt, p}));
  }
  return columns.contiguous()
      .view({columns.size(0) * positions, channels})
      .index_select(0, b * positions + p);
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
                           double tau) {
  check_infonce_arguments(columns, weights);
  const int64_t batch = columns.size(0);
  const int64_t positions = columns.size(1);
  const int64_t channels = columns.size(2);
  // Every full-size pass counts here (the loss runs on every step, on [B, P, C] responses):
  // only the rows the loss reads are gathered, and they are normalised after gathering.
  // The anchors' targets need the images that hold anchors: for the anchors of image b, the
  // rows of W at their positions times ẑ_b. Those I images are gathered ([I, P, C]), their
  // anchors grouped into slots 0 … k−1 (k: the most anchors an image has), the W rows
  // scattered into Wpad [I, k, P] (zero rows elsewhere) with 1/‖z_bj‖ folded in, since
  // Σ_j W_ij ẑ_bj = Σ_j (W_ij / ‖z_bj‖) z_bj, and mixed by one batched GEMM: 2·I·k·P·C FLOP
  // against the reference's 2·B·P²·C.
  const torch::Tensor cpu_anchors = anchors.to(torch::kCPU, torch::kInt64).contiguous();
  const int64_t* a = cpu_anchors.data_ptr<int64_t>();
  const int64_t count = cpu_anchors.numel();
  std::vector<int64_t> image_index(static_cast<size_t>(batch), -1);  // b → i, or −1
  std::vector<int64_t> images;                                       // i → b
  std::vector<int64_t> per_image;
  std::vector<int64_t> slot(static_cast<size_t>(count));
  int64_t k = 1;
  for (int64_t n = 0; n < count; ++n) {
    TORCH_CHECK(a[n] >= 0 && a[n] < batch * positions, "infonce_loss: anchor ", a[n],
                " outside the ", batch * positions, " columns");
    const auto b = static_cast<size_t>(a[n] / positions);
    if (image_index[b] < 0) {
      image_index[b] = static_cast<int64_t>(images.size());
      images.push_back(static_cast<int64_t>(b));
      per_image.push_back(0);
    }
    const auto i = static_cast<size_t>(image_index[b]);
    slot[static_cast<size_t>(n)] = per_image[i]++;
    k = std::max(k, per_image[i]);
  }
  const auto held = static_cast<int64_t>(images.size());
  std::vector<int64_t> target_rows(static_cast<size_t>(count));  // into [I·k]
  std::vector<int64_t> anchor_rows(static_cast<size_t>(count));  // into [I·P]
  for (int64_t n = 0; n < count; ++n) {
    const int64_t i = image_index[static_cast<size_t>(a[n] / positions)];
    target_rows[static_cast<size_t>(n)] = i * k + slot[static_cast<size_t>(n)];
    anchor_rows[static_cast<size_t>(n)] = i * positions + a[n] % positions;
  }
  const torch::Tensor targets_at = torch::tensor(target_rows, torch::kInt64);
  // One gather for the anchor images' columns and the negatives (one full-size backward).
  const torch::Tensor image_rows = torch::tensor(images, torch::kInt64);
  const torch::Tensor n_cpu = negatives.to(torch::kCPU, torch::kInt64);
  const torch::Tensor gathered = gather_columns(
      columns,
      torch::cat({image_rows.repeat_interleave(positions), n_cpu.div(positions, "floor")}),
      torch::cat({torch::arange(positions, torch::kInt64).repeat({held}),
                  n_cpu.remainder(positions)}));  // [I·P + N, C]
  const torch::Tensor x = gathered.narrow(0, 0, held * positions)
                              .view({held, positions, channels});  // [I, P, C]
  const torch::Tensor inverse_norm = 1 / x.norm(2, /*dim=*/-1).clamp_min(1e-12);  // [I, P]
  const torch::Tensor w = weights.to(x.scalar_type());
  const torch::Tensor w_pad = torch::zeros({held * k, positions}, w.options())
                                  .index_copy_(0, targets_at,
                                               w.index_select(0, cpu_anchors.remainder(positions)));
  const torch::Tensor mixed =
      torch::bmm(w_pad.view({held, k, positions}) * inverse_norm.unsqueeze(1), x);  // [I, k, C]
  const torch::Tensor anchor_t =
      unit_rows(mixed.view({held * k, channels}).index_select(0, targets_at));  // [A, C]
  const torch::Tensor anchor_z = unit_rows(x.view({held * positions, channels})
                                               .index_select(0, torch::tensor(anchor_rows, torch::kInt64)));
  const torch::Tensor negative_z = unit_rows(gathered.narrow(0, held * positions, n_cpu.size(0)));
  return infonce_from_targets(anchor_z, anchor_t, negative_z, cpu_anchors, n_cpu, positions,
                              tau);
}

torch::Tensor sampled_infonce_loss(const torch::Tensor& columns, const torch::Tensor& weights,
                                   const InfoNceLossOptions& options) {
  TORCH_CHECK(columns.dim() == 3, "infonce: expected columns [B, P, C], got ", columns.sizes());
  if (columns.size(1) < 2) return torch::zeros({}, columns.options());
  const int64_t total = columns.size(0) * columns.size(1);
  return infonce_loss(columns, weights,
                      sample_anchors(columns.size(0), columns.size(1), options.anchors()),
                      sample_indices(total, options.negatives()), options.tau());
}

InfoNceLossImpl::InfoNceLossImpl(InfoNceLossOptions options) : options_(options) {
  TORCH_CHECK(options_.anchors() >= 1 && options_.negatives() >= 1 && options_.sigma() > 0 &&
                  options_.tau() > 0,
              "infonce: anchors ", options_.anchors(), ", negatives ", options_.negatives(),
              ", sigma ", options_.sigma(), ", tau ", options_.tau(), "; expected all > 0");
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
  return sampled_infonce_loss(columns, cached->second.to(responses.scalar_type()), options_);
}

}  // namespace nosharing
