// Local InfoNCE (the seed model, DESIGN §4): each column should be predictable from its
// neighbours in the same image and not from columns of other images. The column of
// position i in image b is z_bi ∈ R^C (the C channel responses there); with ẑ = z/‖z‖,
//   W_ij = softmax_j(−d_ij² / 2σ²), the diagonal masked out before the softmax,
//   t_bi = normalize(Σ_j W_ij ẑ_bj),            s⁺ = ẑ_bi · t_bi / τ,
//   L = −mean_anchors log( e^{s⁺} / (e^{s⁺} + Σ_n e^{ẑ_bi · ẑ_n / τ}) ),
// negatives n: columns at any position of *other* images (same-image negatives are
// masked). d = grid distance between positions (whatever the sheet layout), σ = 2, τ = 0.1.
// Cost control: per step at most `anchors` anchor columns and `negatives` negative columns
// (default 256 each), with LibTorch's global generator; all B·P columns when there are fewer.
// Negatives are drawn uniformly without replacement from the B·P columns; anchors
// image-major: m = min(P, ⌈√anchors⌉) distinct positions (a random m-subset, cyclically
// shifted by a random offset per image) in each of ⌈anchors/m⌉ images drawn without
// replacement, so that their neighbour mixtures read few images. The defaults keep the loss within a quarter of a training step of the networks it
// regularises (bench/topography_bench.cc); at 1,024 and 1,024 the [A, N] logits alone cost
// more than that. A layer with one position has no neighbours: L = 0.
//
// Floor: with s⁺ ≤ 1/τ and s_n ≥ −1/τ, L ≥ log(1 + N e^{−2/τ}) for N unmasked negatives,
// reached when the columns of an image are identical and those of the other image opposite.
#pragma once

#include <torch/nn/pimpl.h>

#include <map>
#include <memory>
#include <utility>

#include "nosharing/topography/infonce_options.h"
#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

// `count` distinct indices of [0, total), every subset equally likely (LibTorch's global
// generator; O(count), where randperm(total) would cost O(total) per layer and step); all of
// [0, total) in order when count >= total. The order of the drawn indices is not random.
torch::Tensor sample_distinct(int64_t total, int64_t count);

// W above for an H×W grid: [P, P], rows sum to 1, zero diagonal (float64).
torch::Tensor infonce_neighbour_weights(int64_t height, int64_t width, double sigma);

// L above for given anchors and negatives: columns [B, P, C] (unnormalised), weights [P, P],
// anchors and negatives int64 indices into the B·P columns (b·P + p), anchors distinct.
// Mixes neighbours for the anchors only, in one fused autograd function (cpu/infonce_function.h;
// there also what `sink` asks of the columns).
torch::Tensor infonce_loss(const torch::Tensor& columns, const torch::Tensor& weights,
                           const torch::Tensor& anchors, const torch::Tensor& negatives,
                           double tau, std::shared_ptr<ResponseGradientSink> sink = nullptr);
// The same L, plainly: every column's neighbour mixture by one [P, P] GEMM, then the anchors'
// rows. The check of infonce_loss (infonce_test.cc).
torch::Tensor infonce_loss_reference(const torch::Tensor& columns, const torch::Tensor& weights,
                                     const torch::Tensor& anchors, const torch::Tensor& negatives,
                                     double tau);

// L above with the cost control: up to options.anchors() anchors and options.negatives()
// negatives drawn from the B·P columns [B, P, C] (without replacement, LibTorch's global
// generator); weights [P, P] from infonce_neighbour_weights. 0 when P < 2 (no neighbours).
// The Mapformer's auxiliary loss calls this on every block's output.
torch::Tensor sampled_infonce_loss(const torch::Tensor& columns, const torch::Tensor& weights,
                                   const InfoNceLossOptions& options,
                                   std::shared_ptr<ResponseGradientSink> sink = nullptr);

class InfoNceLossImpl : public TopographicLossImpl {
 public:
  explicit InfoNceLossImpl(InfoNceLossOptions options = {});
  bool needs_responses() const override { return true; }
  torch::Tensor forward(const TopographicLayer& layer) override;

 private:
  InfoNceLossOptions options_;
  // W per grid (height, width), made once: every step of a layer uses the same one.
  std::map<std::pair<int64_t, int64_t>, torch::Tensor> neighbour_weights_;
};
TORCH_MODULE(InfoNceLoss);

}  // namespace nosharing
