#include "nosharing/topography/spatial_correlation.h"

#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <cmath>

namespace nosharing {
namespace {

// Centres and scales the columns of x [M, N] to unit norm over M: then z_iᵀ z_j is the
// Pearson correlation of columns i and j.
torch::Tensor standardize_columns(const torch::Tensor& x) {
  const torch::Tensor centred = x - x.mean(0, /*keepdim=*/true);
  return centred / centred.pow(2).sum(0, /*keepdim=*/true).add(1e-12).sqrt();
}

// L from standardised responses z [B, N] (so r = zᵀz) and s [N, N], with a hand-written
// backward. r and s are symmetric, so the off-diagonal entries hold every lower-triangle pair
// twice: the same means, and sums of products twice the lower triangle's. With rc, sc the
// off-diagonal entries centred (zero on the diagonal),
//   A = ½ Σ rc·sc,  Q_r = ½ Σ rc² + ε,  Q_s = ½ Σ sc² + ε,  corr = A / √(Q_r Q_s),
// (halving keeps the reference's ε exactly) and L = (1 − corr)/2. Then
//   ∂L/∂r = −½ (sc / (2√(Q_r Q_s)) − A·rc / (2 Q_r^{3/2} √Q_s)),
// already of zero off-diagonal mean (so the centring passes it through), and
// ∂L/∂z = z (G + Gᵀ) = 2 z G. About 15 passes over [N, N] against some 50 for autograd over
// the same ops, and no gather of the N(N−1)/2 pairs.
struct PairCorrelationFunction : public torch::autograd::Function<PairCorrelationFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& z,
                               const torch::Tensor& s) {
    const int64_t n = z.size(1);
    const torch::Tensor off_diagonal = 1 - torch::eye(n, z.options());
    const double pairs = static_cast<double>(n * (n - 1));  // counted twice
    const auto centred = [&](const torch::Tensor& m) {
      return (m - (m * off_diagonal).sum() / pairs).mul_(off_diagonal);
    };
    const torch::Tensor rc = centred(z.t().mm(z));
    const torch::Tensor sc = centred(s);
    const double a = (rc * sc).sum().item<double>() / 2;
    const double q_r = rc.pow(2).sum().item<double>() / 2 + 1e-12;
    const double q_s = sc.pow(2).sum().item<double>() / 2 + 1e-12;
    ctx->save_for_backward({z, rc, sc});
    ctx->saved_data["a"] = a;
    ctx->saved_data["q_r"] = q_r;
    ctx->saved_data["q_s"] = q_s;
    return torch::full({}, (1 - a / std::sqrt(q_r * q_s)) / 2, z.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "spatial_correlation_loss: double backward (create_graph=true) is not "
                "supported; use spatial_correlation_loss_reference");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}};
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &z = saved[0], &rc = saved[1], &sc = saved[2];
    const double a = ctx->saved_data["a"].toDouble();
    const double q_r = ctx->saved_data["q_r"].toDouble();
    const double q_s = ctx->saved_data["q_s"].toDouble();
    const double g = grad.item<double>();
    // 2·G = −½ (sc/√(Q_r Q_s) − A rc/(Q_r^{3/2} √Q_s)), times the incoming gradient.
    const double along_s = -0.5 * g / std::sqrt(q_r * q_s);
    const double along_r = 0.5 * g * a / (q_r * std::sqrt(q_r * q_s));
    const torch::Tensor twice_g = sc * along_s + rc * along_r;
    return {z.mm(twice_g), {}};
  }
};

void check_arguments(const torch::Tensor& responses, const torch::Tensor& distances) {
  TORCH_CHECK(responses.dim() == 2 && distances.dim() == 2 &&
                  distances.size(0) == responses.size(1) &&
                  distances.size(1) == responses.size(1),
              "spatial_correlation_loss: expected responses [B, N] and distances [N, N], got ",
              responses.sizes(), " and ", distances.sizes());
}

}  // namespace

torch::Tensor spatial_correlation_loss(const torch::Tensor& responses,
                                       const torch::Tensor& distances) {
  check_arguments(responses, distances);
  const int64_t n = responses.size(1);
  if (n < 3) return torch::full({}, 0.5, responses.options());  // fewer than 2 pairs
  return PairCorrelationFunction::apply(standardize_columns(responses),
                                        1.0 / (distances.to(responses.scalar_type()) + 1.0));
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
