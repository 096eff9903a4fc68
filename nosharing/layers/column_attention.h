// Column attention (DESIGN §2, the Mapformer of seed 000): a grid of L = h·w feature columns
// [B, L, D] in which every column i owns a query q_i ∈ R^D and a spatial bias row
// B_i ∈ R^L, and reads the other columns with
//   A_bij = softmax_j( q_i · x_bj / √D + B_ij ),        out_bi = Σ_j A_bij x_bj.
// There are no key, value or output projections: a column mixes the columns it attends to
// as they are (the column MLP after it mixes channels), so the only weights are q and B,
// both unshared (one per column).
//
// Choices (ours; the seed gives the formula without a scale):
// - Scale 1/√D on the content term. The Mapformer feeds layer-normed columns (‖x_j‖ = √D),
//   so for unit-variance channels q·x_j/√D has standard deviation ‖q‖/√D, the rms of q's
//   entries: the sharpness of content attention is set by q's scale, independent of D.
// - q ~ N(0, 0.02²) (as ViT's learned tokens): content attention starts nearly uniform
//   and sharpens as q grows.
// - `content_attn = false` drops the q term (A depends on B only, the same for every image);
//   `spatial_bias = false` drops B. With both off A is uniform, 1/L (mean pooling).
// - Spatial-bias initialisation: "zeros" (the seed: every column starts looking
//   everywhere) or "gaussian": B_ij = max(−d_ij² / 2σ², −8), d_ij the grid distance between
//   columns i and j (a local, conv-like start). The floor −8 (e^{−8} ≈ 3·10⁻⁴) keeps far
//   columns reachable by gradient instead of starting them at −∞.
// - Attention dropout (`attn_dropout`) drops entries of A after the softmax in training
//   (scaled by 1/(1 − p), as torch's attention dropout).
#pragma once

#include <torch/arg.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace nosharing {

enum class SpatialBiasInit { kZeros, kGaussian };

// "zeros" | "gaussian"; otherwise a UsageError naming `key`.
SpatialBiasInit parse_spatial_bias_init(const std::string& value, const std::string& key);
std::string spatial_bias_init_name(SpatialBiasInit init);

struct ColumnAttentionOptions {
  ColumnAttentionOptions(int64_t height, int64_t width, int64_t dim);

  // The grid h × w of columns (L = h·w, row-major: column i sits at (i / w, i % w)).
  TORCH_ARG(int64_t, height);
  TORCH_ARG(int64_t, width);
  TORCH_ARG(int64_t, dim);  // D, channels per column
  TORCH_ARG(bool, content_attn) = true;
  TORCH_ARG(bool, spatial_bias) = true;
  TORCH_ARG(double, attn_dropout) = 0.0;
  TORCH_ARG(SpatialBiasInit, bias_init) = SpatialBiasInit::kZeros;
  TORCH_ARG(double, bias_sigma) = 2.0;  // σ of the gaussian initialisation, grid units
};

// Throws c10::Error naming the bad value unless height, width, dim ≥ 1, attn_dropout in
// [0, 1) and bias_sigma > 0.
void check_column_attention_options(const ColumnAttentionOptions& options);

// The gaussian initialisation above for an h × w grid: float64 [L, L],
// max(−d_ij² / 2σ², −8).
torch::Tensor gaussian_spatial_bias(int64_t height, int64_t width, double sigma);

// The attention maps, the definition the module runs: x [B, L, D], query [L, D] or undefined
// (no content term), bias [L, L] or undefined (no spatial bias) → A [B, L, L] (row i: the
// weights column i gives the columns j; rows sum to 1; a transposed view of a contiguous
// [B, L_j, L_i] tensor). No dropout.
torch::Tensor column_attention_maps(const torch::Tensor& x, const torch::Tensor& query,
                                    const torch::Tensor& bias);

class ColumnAttentionImpl : public torch::nn::Cloneable<ColumnAttentionImpl> {
 public:
  ColumnAttentionImpl(int64_t height, int64_t width, int64_t dim)
      : ColumnAttentionImpl(ColumnAttentionOptions(height, width, dim)) {}
  explicit ColumnAttentionImpl(ColumnAttentionOptions options);

  void reset() override;
  void reset_parameters();

  // x [B, L, D] → A @ x [B, L, D] (A with dropout in training). Keeps A (before dropout, in
  // the autograd graph when gradients are on) for last_attention().
  torch::Tensor forward(const torch::Tensor& x);

  // A [B, L, L] of the last forward (undefined before the first): for the wiring cost during
  // training and for the analysis of attention fields.
  const torch::Tensor& last_attention() const { return attention_; }

  void pretty_print(std::ostream& stream) const override;

  ColumnAttentionOptions options;
  torch::Tensor query;  // [L, D], undefined unless options.content_attn()
  torch::Tensor bias;   // [L, L], undefined unless options.spatial_bias()

 private:
  torch::Tensor attention_;
};

TORCH_MODULE(ColumnAttention);

}  // namespace nosharing
