#include "nosharing/topography/spatial_correlation.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "nosharing/core/vectorised.h"
#include "nosharing/layers/cpu/blas.h"

namespace nosharing {
namespace {

// Centres and scales the columns of x [M, N] to unit norm over M: then z_iᵀ z_j is the
// Pearson correlation of columns i and j. (The reference's form; the fused function below
// does the same with ‖c‖ = √(Σ c² + 1e-12).)
torch::Tensor standardize_columns(const torch::Tensor& x) {
  const torch::Tensor centred = x - x.mean(0, /*keepdim=*/true);
  return centred / centred.pow(2).sum(0, /*keepdim=*/true).add(1e-12).sqrt();
}

constexpr double kNormEpsilon = 1e-12;  // in ‖c‖² (standardize_columns)
constexpr double kQuadraticEpsilon = 1e-12;  // in Q_r and Q_s

// L from responses x [B, N] and s [N, N], fused, with a hand-written backward. Columns are
// standardised, z = c / ‖c‖ with c = x − mean_b x, so r = zᵀz. r and s are symmetric, so the
// off-diagonal entries hold every lower-triangle pair twice: the same means, and sums of
// products twice the lower triangle's. With rc, sc the off-diagonal entries centred (zero on
// the diagonal),
//   A = ½ Σ rc·sc,  Q_r = ½ Σ rc² + ε,  Q_s = ½ Σ sc² + ε,  corr = A / √(Q_r Q_s),
// (halving keeps the reference's ε exactly) and L = (1 − corr)/2. A, Q_r and Q_s come from
// five running sums over the off-diagonal (Σr, Σs, Σrs, Σr², Σs², in double). Backward:
//   ∂L/∂r = −½ (sc / (2√(Q_r Q_s)) − A·rc / (2 Q_r^{3/2} √Q_s)) = G,
// already of zero off-diagonal mean (so the centring passes it through); ∂L/∂z = 2 z G;
// ∂L/∂c = (∂z − z (z·∂z)) / ‖c‖ per column; ∂L/∂x = ∂c − mean_b ∂c. Two GEMMs and a few
// passes over [N, N] and [B, N], where the same ops through autograd were some 60 small
// LibTorch calls per layer and step, each waking the thread pool.
struct PairCorrelationFunction : public torch::autograd::Function<PairCorrelationFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& s) {
    const int64_t batch = x.size(0), n = x.size(1);
    torch::Tensor z = torch::empty({batch, n}, x.options());
    torch::Tensor norms = torch::empty({n}, x.options());
    double pairs = static_cast<double>(n * (n - 1));  // counted twice
    double mean_r = 0, mean_s = 0, a = 0, q_r = 0, q_s = 0;
    torch::Tensor r;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spatial_correlation_forward", [&] {
      using T = scalar_t;
      const T* xp = x.data_ptr<T>();
      T* zp = z.data_ptr<T>();
      T* np = norms.data_ptr<T>();
      // Column statistics, read down the batch (rows n apart): one column per i.
      at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t i = begin; i < end; ++i) {
          double sum = 0;
          for (int64_t b = 0; b < batch; ++b) sum += xp[b * n + i];
          const double mean = sum / static_cast<double>(batch);
          double squares = 0;
          for (int64_t b = 0; b < batch; ++b) {
            const double c = xp[b * n + i] - mean;
            squares += c * c;
          }
          const double norm = std::sqrt(squares + kNormEpsilon);
          np[i] = static_cast<T>(norm);
          for (int64_t b = 0; b < batch; ++b) {
            zp[b * n + i] = static_cast<T>((xp[b * n + i] - mean) / norm);
          }
        }
      });
      // r = zᵀz [N, N] through oneDNN on the intra-op threads (at::mm would wake OpenBLAS's
      // own pool for a 500 × 128 × 500 product).
      r = torch::empty({n, n}, x.options());
      gemm(CblasTrans, CblasNoTrans, n, n, batch, zp, n, zp, n, r.data_ptr<T>(), n);
      const T* rp = r.data_ptr<T>();
      const T* sp = s.data_ptr<T>();
      // The five sums over the strict lower triangle (r and s are symmetric, so the
      // off-diagonal sums are twice these), row by row in kLanes interleaved partial sums the
      // compiler keeps in vector registers, each row's then added in double.
      struct Sums {
        double r = 0, s = 0, rs = 0, rr = 0, ss = 0;
      };
      const Sums lower = at::parallel_reduce(
          0, n, 16, Sums{},
          [&](int64_t begin, int64_t end, Sums acc) NOSHARING_VECTORISED {
            constexpr int64_t kLanes = 16;
            for (int64_t i = begin; i < end; ++i) {
              const T* ri = rp + i * n;
              const T* si = sp + i * n;
              T lr[kLanes] = {}, ls[kLanes] = {}, lrs[kLanes] = {}, lrr[kLanes] = {},
                ls2[kLanes] = {};
              int64_t j = 0;
              for (; j + kLanes <= i; j += kLanes) {
                for (int64_t l = 0; l < kLanes; ++l) {
                  const T rv = ri[j + l], sv = si[j + l];
                  lr[l] += rv;
                  ls[l] += sv;
                  lrs[l] += rv * sv;
                  lrr[l] += rv * rv;
                  ls2[l] += sv * sv;
                }
              }
              for (; j < i; ++j) {
                const T rv = ri[j], sv = si[j];
                lr[0] += rv, ls[0] += sv, lrs[0] += rv * sv, lrr[0] += rv * rv, ls2[0] += sv * sv;
              }
              for (int64_t l = 0; l < kLanes; ++l) {
                acc.r += lr[l], acc.s += ls[l], acc.rs += lrs[l], acc.rr += lrr[l];
                acc.ss += ls2[l];
              }
            }
            return acc;
          },
          [](Sums u, const Sums& v) {
            u.r += v.r, u.s += v.s, u.rs += v.rs, u.rr += v.rr, u.ss += v.ss;
            return u;
          });
      const Sums sums{2 * lower.r, 2 * lower.s, 2 * lower.rs, 2 * lower.rr, 2 * lower.ss};
      mean_r = sums.r / pairs;
      mean_s = sums.s / pairs;
      // Σ (r − m_r)(s − m_s) = Σ rs − m_r Σ s − m_s Σ r + pairs·m_r·m_s, and so on.
      a = (sums.rs - mean_r * sums.s - mean_s * sums.r + pairs * mean_r * mean_s) / 2;
      q_r = std::max(0.0, sums.rr - sums.r * mean_r) / 2 + kQuadraticEpsilon;
      q_s = std::max(0.0, sums.ss - sums.s * mean_s) / 2 + kQuadraticEpsilon;
    });
    ctx->save_for_backward({z, norms, r, s});
    ctx->saved_data["mean_r"] = mean_r;
    ctx->saved_data["mean_s"] = mean_s;
    ctx->saved_data["a"] = a;
    ctx->saved_data["q_r"] = q_r;
    ctx->saved_data["q_s"] = q_s;
    return torch::full({}, (1 - a / std::sqrt(q_r * q_s)) / 2, x.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "spatial_correlation_loss: double backward (create_graph=true) is not "
                "supported; use spatial_correlation_loss_reference");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}};
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &z = saved[0], &norms = saved[1], &r = saved[2], &s = saved[3];
    const double mean_r = ctx->saved_data["mean_r"].toDouble();
    const double mean_s = ctx->saved_data["mean_s"].toDouble();
    const double a = ctx->saved_data["a"].toDouble();
    const double q_r = ctx->saved_data["q_r"].toDouble();
    const double q_s = ctx->saved_data["q_s"].toDouble();
    const double g = grad.item<double>();
    // 2·G = −½ (sc/√(Q_r Q_s) − A rc/(Q_r^{3/2} √Q_s)), times the incoming gradient.
    const double along_s = -0.5 * g / std::sqrt(q_r * q_s);
    const double along_r = 0.5 * g * a / (q_r * std::sqrt(q_r * q_s));
    const int64_t batch = z.size(0), n = z.size(1);
    torch::Tensor twice_g = torch::empty({n, n}, z.options());
    torch::Tensor grad_x;
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "spatial_correlation_backward", [&] {
      using T = scalar_t;
      const T* rp = r.data_ptr<T>();
      const T* sp = s.data_ptr<T>();
      T* gp = twice_g.data_ptr<T>();
      const T cs = static_cast<T>(along_s), cr = static_cast<T>(along_r);
      const T shift = static_cast<T>(-along_s * mean_s - along_r * mean_r);
      at::parallel_for(0, n, 16, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t i = begin; i < end; ++i) {
          T* gi = gp + i * n;
          for (int64_t j = 0; j < n; ++j) gi[j] = cs * sp[i * n + j] + cr * rp[i * n + j] + shift;
          gi[i] = T(0);
        }
      });
      // ∂L/∂z = z·2G [B, N] (G symmetric), turned into ∂L/∂x in place below.
      grad_x = torch::empty({batch, n}, z.options());
      gemm(CblasNoTrans, CblasNoTrans, batch, n, n, z.data_ptr<T>(), n, gp, n,
           grad_x.data_ptr<T>(), n);
      T* dp = grad_x.data_ptr<T>();
      const T* zp = z.data_ptr<T>();
      const T* np = norms.data_ptr<T>();
      at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t i = begin; i < end; ++i) {
          double along = 0;
          for (int64_t b = 0; b < batch; ++b) along += double(zp[b * n + i]) * dp[b * n + i];
          double mean = 0;
          for (int64_t b = 0; b < batch; ++b) {
            const double dc = (dp[b * n + i] - zp[b * n + i] * along) / np[i];
            dp[b * n + i] = static_cast<T>(dc);
            mean += dc;
          }
          mean /= static_cast<double>(batch);
          for (int64_t b = 0; b < batch; ++b) dp[b * n + i] = static_cast<T>(dp[b * n + i] - mean);
        }
      });
    });
    return {grad_x, {}};
  }
};

void check_arguments(const torch::Tensor& responses, const torch::Tensor& distances) {
  TORCH_CHECK(responses.dim() == 2 && distances.dim() == 2 &&
                  distances.size(0) == responses.size(1) &&
                  distances.size(1) == responses.size(1),
              "spatial_correlation_loss: expected responses [B, N] and distances [N, N], got ",
              responses.sizes(), " and ", distances.sizes());
}

// The loss from the similarities s = 1/(d + 1) [N, N] (already in the responses' dtype).
torch::Tensor correlation_with_similarity(const torch::Tensor& responses,
                                          const torch::Tensor& similarity) {
  const int64_t n = responses.size(1);
  if (n < 3) return torch::full({}, 0.5, responses.options());  // fewer than 2 pairs
  TORCH_CHECK(responses.device().is_cpu(), "spatial_correlation_loss: expected CPU responses, got ",
              responses.device());
  return PairCorrelationFunction::apply(responses.contiguous(), similarity.contiguous());
}

// s_ij = 1/(‖p_i − p_j‖ + 1) from the units' coordinates [N, 2] (float64), in one pass: the
// same through LibTorch (distances, cast, +1, reciprocal) was six [N, N] temporaries and
// ~2.4 ms a layer and step at N = 500 (measured, TopographicLossAlone).
torch::Tensor similarity_from_coordinates(const torch::Tensor& coordinates,
                                          torch::ScalarType dtype) {
  const torch::Tensor points = coordinates.to(torch::kFloat64).contiguous();
  const int64_t n = points.size(0);
  torch::Tensor out = torch::empty({n, n}, torch::TensorOptions().dtype(dtype));
  const double* p = points.data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES(dtype, "similarity_from_coordinates", [&] {
    scalar_t* s = out.data_ptr<scalar_t>();
    at::parallel_for(0, n, 32, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
      for (int64_t i = begin; i < end; ++i) {
        const double yi = p[2 * i], xi = p[2 * i + 1];
        for (int64_t j = 0; j < n; ++j) {
          const double dy = yi - p[2 * j], dx = xi - p[2 * j + 1];
          s[i * n + j] = static_cast<scalar_t>(1.0 / (std::sqrt(dy * dy + dx * dx) + 1.0));
        }
      }
    });
  });
  return out;
}

}  // namespace

torch::Tensor spatial_correlation_loss(const torch::Tensor& responses,
                                       const torch::Tensor& distances) {
  check_arguments(responses, distances);
  return correlation_with_similarity(
      responses, 1.0 / (distances.to(responses.scalar_type()) + 1.0));
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
  // Units in (c, y, x) order. The unshared kernels' outputs keep the batch innermost: there
  // the map is a [U, B] matrix as it lies, and a neighbourhood is N of its rows; flatten(1)
  // would first copy the whole map to [B, U] (every step, for 500 of its columns).
  const torch::Tensor& responses = layer.responses;
  const torch::Tensor chwn = responses.permute({1, 2, 3, 0});
  const bool batch_innermost = chwn.is_contiguous();
  const torch::Tensor table = batch_innermost ? chwn.view({-1, responses.size(0)})
                                              : responses.flatten(1);  // [U, B] or [B, U]
  torch::Tensor total;
  for (int64_t i = 0; i < options_.neighbourhoods(); ++i) {
    const torch::Tensor units =
        layer.sheet.sample_neighbourhood(options_.radius(), options_.units());
    const torch::Tensor selected =
        batch_innermost ? table.index_select(0, units).t() : table.index_select(1, units);
    const torch::Tensor loss = correlation_with_similarity(
        selected, similarity_from_coordinates(layer.sheet.coordinates(units),
                                              responses.scalar_type()));
    total = total.defined() ? total + loss : loss;
  }
  return total / static_cast<double>(options_.neighbourhoods());
}

}  // namespace nosharing
