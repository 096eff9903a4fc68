// `mapformer` — the seed model (DESIGN §2, seed 000): a vision transformer without weight
// sharing over a grid of feature columns.
//
//   patches   images [B, C, H, W] → [B, L, C·p·p], L = h·w = (H/p)·(W/p) columns, row-major
//   embed     unshared (default): a ColumnLinear, every column maps its own patch to D
//             channels; model.embedding = "shared": one torch::nn::Linear for all patches (a
//             p×p stride-p convolution), for comparison
//   blocks    `depth` times, norms without affine parameters (an affine would be shared):
//               x ← x + DropPath(ColumnAttention(norm(x)))
//               x ← x + DropPath(ColumnMlp(norm(x)))
//   head      norm, then the factorised per-class head y_c = Σ_i u_ci (v_c · x_i) + b_c
//
// norm = layer norm over the D channels of a column, no weight or bias (ε = 1e-5).
// DropPath (stochastic depth, per image) drops a residual branch with a rate rising linearly
// over the blocks from 0 to model.drop_path (DeiT's schedule), rescaling kept branches by
// 1/(1 − rate).
//
// Auxiliary losses (DESIGN §3/§4), per block k, then averaged over the blocks:
//   wiring   C_k = mean_b (1/L) Σ_ij A^k_bij √(1 + d_ij²) on block k's attention maps
//            (topography/wiring.h: attention_wiring_cost; minimal, 1, for self-attention)
//   infonce  local InfoNCE on block k's output columns [B, L, D] (topography/infonce.h:
//            neighbour kernel σ, temperature τ, anchors and negatives sampled per block)
//   smoothness  kernel smoothness (All-TNN, Lu et al. 2023; topography/kernel_smoothness.h)
//            of the column-owned weights: each layer that gives every column its own affine
//            map (the unshared embedding, each block's two MLP layers) is a column sheet on
//            the grid, channel c of column i beside channel c of the adjacent columns, and
//            K_l = (1 − S_l)/2 with S_l the mean neighbour cosine of [w; b]; mean over layers.
//            Neighbouring columns then agree on what their channels mean — the condition for
//            any map over the grid (without it channel c of two columns is unrelated).
//   loss = cross-entropy + model.aux_wiring · mean_k C_k + model.aux_infonce · mean_k I_k
//          + model.aux_smoothness · mean_l K_l
// logged as "aux/wiring", "aux/infonce" and "aux/smoothness" (unweighted means).
//
// model.layerwise (LoCo-style, Xiong et al. 2020): the input of every block after the first
// is detached, so no gradient crosses a block boundary. Block k (and the embedding, for the
// first block) is trained only by its own auxiliary losses; the last block also by the
// cross-entropy through the head. It needs at least one auxiliary weight > 0. The detaching
// happens in training mode only: in eval mode the blocks compose as one function, so the
// analysis can trace gradients from a late block back to the image (receptive fields).
#pragma once

#include <torch/arg.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "nosharing/core/config.h"
#include "nosharing/layers/column_attention.h"
#include "nosharing/layers/column_linear.h"
#include "nosharing/layers/column_mlp.h"
#include "nosharing/layers/factorised_head.h"
#include "nosharing/models/model.h"
#include "nosharing/topography/infonce.h"
#include "nosharing/topography/topographic_loss.h"

namespace nosharing {

struct MapformerOptions {
  MapformerOptions(InputShape input, int64_t num_classes);

  // Reads model.patch, model.dim, model.depth, model.mlp_ratio, model.embedding,
  // model.content_attn, model.spatial_bias, model.bias_init, model.bias_sigma,
  // model.attn_dropout, model.drop_path, model.layerwise, model.aux_wiring, model.aux_infonce,
  // model.aux_smoothness, model.lc_path and topography.anchors/negatives/sigma/tau (the local InfoNCE). UsageError
  // naming the key for model.sharing = conv (the Mapformer has no conv twin), an image side
  // not divisible by the patch, non-positive sizes, rates outside [0, 1), negative weights,
  // or layerwise training without an auxiliary loss.
  static MapformerOptions from_config(const Config& config, const InputShape& input,
                                      int64_t num_classes);

  TORCH_ARG(InputShape, input);
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, patch) = 4;  // p: side of the square patch of one column, pixels
  TORCH_ARG(int64_t, dim) = 64;   // D
  TORCH_ARG(int64_t, depth) = 4;  // blocks
  TORCH_ARG(double, mlp_ratio) = 0.125;
  TORCH_ARG(bool, shared_embedding) = false;
  TORCH_ARG(bool, content_attn) = true;
  TORCH_ARG(bool, spatial_bias) = true;
  TORCH_ARG(SpatialBiasInit, bias_init) = SpatialBiasInit::kZeros;
  TORCH_ARG(double, bias_sigma) = 2.0;
  TORCH_ARG(double, attn_dropout) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;  // rate of the last block
  TORCH_ARG(bool, layerwise) = false;
  TORCH_ARG(double, aux_wiring) = 0.0;   // weight of mean_k C_k
  TORCH_ARG(double, aux_infonce) = 0.0;  // weight of mean_k I_k
  TORCH_ARG(double, aux_smoothness) = 0.0;  // weight of mean_l K_l
  TORCH_ARG(InfoNceLossOptions, infonce) = InfoNceLossOptions();
  // The ColumnLinear layers run their plain LibTorch reference path.
  TORCH_ARG(bool, reference_kernels) = false;
};

// Throws a UsageError naming the model.* key of a bad value (the checks of from_config, for
// options built in code).
void check_mapformer_options(const MapformerOptions& options);

// images [B, C, H, W] → patches [B, L, C·p·p]: column l = gy·(W/p) + gx holds the pixels
// (c, py, px) of rows gy·p + py and columns gx·p + px, flattened in that order. H and W must
// be multiples of p.
torch::Tensor image_patches(const torch::Tensor& images, int64_t patch);

// Stochastic depth: x [B, …] with each image's whole branch zeroed with probability `rate`
// and kept ones scaled by 1/(1 − rate); x itself when not training or rate = 0.
torch::Tensor drop_path(const torch::Tensor& x, double rate, bool training);

// Layer norm over the last dimension without affine parameters (ε = 1e-5).
torch::Tensor column_norm(const torch::Tensor& x);

struct MapformerBlockOptions {
  MapformerBlockOptions(int64_t height, int64_t width, int64_t dim);
  TORCH_ARG(int64_t, height);
  TORCH_ARG(int64_t, width);
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(double, mlp_ratio) = 0.125;
  TORCH_ARG(bool, content_attn) = true;
  TORCH_ARG(bool, spatial_bias) = true;
  TORCH_ARG(SpatialBiasInit, bias_init) = SpatialBiasInit::kZeros;
  TORCH_ARG(double, bias_sigma) = 2.0;
  TORCH_ARG(double, attn_dropout) = 0.0;
  TORCH_ARG(double, drop_path) = 0.0;  // this block's rate
  TORCH_ARG(bool, reference_kernels) = false;
};

// One block: x + DropPath(attn(norm(x))), then + DropPath(mlp(norm(x))).
class MapformerBlockImpl : public torch::nn::Cloneable<MapformerBlockImpl> {
 public:
  explicit MapformerBlockImpl(MapformerBlockOptions options);
  void reset() override;
  // x [B, L, D] → [B, L, D].
  torch::Tensor forward(const torch::Tensor& x);

  MapformerBlockOptions options;
  ColumnAttention attn{nullptr};
  ColumnMlp mlp{nullptr};
};
TORCH_MODULE(MapformerBlock);

class MapformerImpl : public ModelImpl {
 public:
  explicit MapformerImpl(MapformerOptions options);

  // images [B, C, H, W] (as options.input()) → logits [B, num_classes]. In training mode it
  // keeps every block's output (and each attention module its maps) for auxiliary_losses().
  torch::Tensor forward(torch::Tensor images) override;

  // "wiring" and "infonce" (those with a weight > 0), each the mean over blocks of the
  // unweighted per-block value, from the last training forward, and "smoothness" (weight > 0)
  // of the current weights; empty outside training.
  std::vector<AuxiliaryLoss> auxiliary_losses() override;

  // Block k's (0-based) unweighted terms from the last training forward: the wiring cost of
  // its attention maps, and the local InfoNCE of its output (a fresh anchor/negative sample
  // at each call).
  torch::Tensor block_wiring_cost(size_t block) const;
  torch::Tensor block_infonce(size_t block) const;
  // mean_l K_l above over column_weight_layers(), unweighted, differentiable.
  torch::Tensor weight_smoothness() const;
  // The layers that own one affine map per column, as the topographic losses see a layer:
  // "embed" (when unshared), "block<k>.fc1", "block<k>.fc2", each on the grid's column sheet.
  std::vector<TopographicLayer> column_weight_layers() const;

  // The columns after `blocks` blocks (0: the embedding; depth: the last block, before the
  // final norm), [B, L, D], following the layerwise detaching of forward() (in training
  // mode only); keeps no block
  // outputs (the attention modules still keep their last maps).
  torch::Tensor features(const torch::Tensor& images, int64_t blocks);
  // The columns after each block, depth tensors [B, L, D] from one pass (as features(x, k)
  // for k = 1 … depth); what the analysis measures as each block's sheet.
  std::vector<torch::Tensor> block_features(const torch::Tensor& images);

  const MapformerOptions& options() const { return options_; }
  int64_t grid_height() const { return grid_height_; }
  int64_t grid_width() const { return grid_width_; }
  int64_t columns() const { return grid_height_ * grid_width_; }
  const std::vector<MapformerBlock>& blocks() const { return blocks_; }
  const FactorisedHead& head() const { return head_; }
  // The unshared embedding (null when shared) and the shared one (null when unshared).
  const ColumnLinear& column_embedding() const { return column_embed_; }
  // Weight SNR over the columns of the column linear layers: the embedding ("embed",
  // undefined when shared) and every block's MLP ("block<k>.mlp.fc1", "….fc2").
  std::vector<std::pair<std::string, torch::Tensor>> weight_snr_layers() const override;
  const torch::nn::Linear& shared_embedding() const { return shared_embed_; }
  // d_ij as the wiring cost prices it, √(1 + d²), float64 [L, L].
  const torch::Tensor& wiring_lengths() const { return wiring_lengths_; }

 private:
  torch::Tensor embed(const torch::Tensor& images);

  MapformerOptions options_;
  int64_t grid_height_ = 0, grid_width_ = 0;
  ColumnLinear column_embed_{nullptr};
  torch::nn::Linear shared_embed_{nullptr};
  std::vector<MapformerBlock> blocks_;
  FactorisedHead head_{nullptr};
  torch::Tensor wiring_lengths_;              // [L, L] float64
  torch::Tensor infonce_neighbours_;          // [L, L] float64, W of the local InfoNCE
  std::vector<torch::Tensor> block_outputs_;  // of the last training forward
};

TORCH_MODULE(Mapformer);

}  // namespace nosharing
