#include "nosharing/layers/column_attention.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>

#include "nosharing/core/error.h"
#include "nosharing/core/sheet.h"

namespace nosharing {
namespace {

constexpr double kQueryInitStd = 0.02;
constexpr double kGaussianBiasFloor = -8.0;

}  // namespace

SpatialBiasInit parse_spatial_bias_init(const std::string& value, const std::string& key) {
  if (value == "zeros") return SpatialBiasInit::kZeros;
  if (value == "gaussian") return SpatialBiasInit::kGaussian;
  throw_usage("{} = \"{}\": expected zeros or gaussian", key, value);
}

std::string spatial_bias_init_name(SpatialBiasInit init) {
  return init == SpatialBiasInit::kZeros ? "zeros" : "gaussian";
}

ColumnAttentionOptions::ColumnAttentionOptions(int64_t height, int64_t width, int64_t dim)
    : height_(height), width_(width), dim_(dim) {}

void check_column_attention_options(const ColumnAttentionOptions& options) {
  TORCH_CHECK(options.height() >= 1 && options.width() >= 1,
              "ColumnAttention: grid must be at least 1×1, got ", options.height(), "×",
              options.width());
  TORCH_CHECK(options.dim() >= 1, "ColumnAttention: dim must be >= 1, got ", options.dim());
  TORCH_CHECK(options.attn_dropout() >= 0 && options.attn_dropout() < 1,
              "ColumnAttention: attn_dropout must be in [0, 1), got ", options.attn_dropout());
  TORCH_CHECK(options.bias_sigma() > 0, "ColumnAttention: bias_sigma must be > 0, got ",
              options.bias_sigma());
}

torch::Tensor gaussian_spatial_bias(int64_t height, int64_t width, double sigma) {
  TORCH_CHECK(sigma > 0, "gaussian_spatial_bias: sigma must be > 0, got ", sigma);
  const torch::Tensor positions = position_coordinates(height, width);
  const torch::Tensor d2 = pairwise_distances(positions, positions).pow(2);
  return (-d2 / (2 * sigma * sigma)).clamp_min(kGaussianBiasFloor);
}

torch::Tensor column_attention_maps(const torch::Tensor& x, const torch::Tensor& query,
                                    const torch::Tensor& bias) {
  TORCH_CHECK(x.dim() == 3, "column attention: expected x [B, L, D], got ", x.sizes());
  const int64_t columns = x.size(1);
  const int64_t dim = x.size(2);
  TORCH_CHECK(
      !query.defined() || (query.dim() == 2 && query.size(0) == columns && query.size(1) == dim),
      "column attention: query ", query.sizes(), " does not fit x [B, L, D] ", x.sizes());
  TORCH_CHECK(
      !bias.defined() || (bias.dim() == 2 && bias.size(0) == columns && bias.size(1) == columns),
      "column attention: bias ", bias.sizes(), " is not [L, L] for x ", x.sizes());
  // The logits are built transposed, [B, L_j, L_i], so that the content term is one GEMM
  // [B·L, D] × [D, L] (q_i · x_bj for every b, j, i) instead of B batched ones, with the 1/√D
  // scale applied to the small query rather than to the [B, L, L] logits.
  torch::Tensor logits_t;
  if (query.defined()) {
    logits_t = at::matmul(x, (query / std::sqrt(static_cast<double>(dim))).t());
  }
  if (bias.defined()) {
    logits_t = logits_t.defined() ? logits_t + bias.t()
                                  : bias.t().unsqueeze(0).expand({x.size(0), columns, columns});
  }
  if (!logits_t.defined()) {
    return at::full({x.size(0), columns, columns}, 1.0 / static_cast<double>(columns), x.options());
  }
  // Softmax over j (dim 1 here), then the view A [B, L_i, L_j].
  return at::softmax(logits_t, 1).transpose(1, 2);
}

ColumnAttentionImpl::ColumnAttentionImpl(ColumnAttentionOptions options_)
    : options(std::move(options_)) {
  reset();
}

void ColumnAttentionImpl::reset() {
  check_column_attention_options(options);
  const int64_t columns = options.height() * options.width();
  if (options.content_attn()) {
    query = register_parameter("query", torch::empty({columns, options.dim()}));
  } else {
    query = torch::Tensor();
  }
  if (options.spatial_bias()) {
    bias = register_parameter("bias", torch::empty({columns, columns}));
  } else {
    bias = torch::Tensor();
  }
  reset_parameters();
}

void ColumnAttentionImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (query.defined()) query.normal_(0.0, kQueryInitStd);
  if (bias.defined()) {
    if (options.bias_init() == SpatialBiasInit::kGaussian) {
      bias.copy_(gaussian_spatial_bias(options.height(), options.width(), options.bias_sigma()));
    } else {
      bias.zero_();
    }
  }
}

torch::Tensor ColumnAttentionImpl::forward(const torch::Tensor& x) {
  const int64_t columns = options.height() * options.width();
  TORCH_CHECK(x.dim() == 3 && x.size(1) == columns && x.size(2) == options.dim(),
              "ColumnAttention: expected x [B, ", columns, ", ", options.dim(), "], got ",
              x.sizes());
  attention_ = column_attention_maps(x, query, bias);
  torch::Tensor weights = attention_;
  if (options.attn_dropout() > 0 && is_training()) {
    weights = at::dropout(weights, options.attn_dropout(), /*train=*/true);
  }
  return at::matmul(weights, x);  // [B, L, L] × [B, L, D]
}

void ColumnAttentionImpl::pretty_print(std::ostream& stream) const {
  stream << "nosharing::ColumnAttention(grid=" << options.height() << "x" << options.width()
         << ", dim=" << options.dim();
  if (!options.content_attn()) stream << ", content_attn=false";
  if (!options.spatial_bias()) stream << ", spatial_bias=false";
  if (options.spatial_bias()) {
    stream << ", bias_init=" << spatial_bias_init_name(options.bias_init());
    if (options.bias_init() == SpatialBiasInit::kGaussian) {
      stream << ", bias_sigma=" << options.bias_sigma();
    }
  }
  if (options.attn_dropout() > 0) stream << ", attn_dropout=" << options.attn_dropout();
  stream << ")";
}

}  // namespace nosharing
