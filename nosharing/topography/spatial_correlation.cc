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

// L from responses x [B, N] and s [N, N] (symmetric), fused, with a hand-written backward.
// Columns are standardised, z = c / ‖c‖ with c = x − mean_b x, so r = zᵀz. The off-diagonal
// entries hold every lower-triangle pair twice: the same means, and sums of products twice
// the lower triangle's. With rc, sc the off-diagonal entries centred (zero on the diagonal),
//   A = ½ Σ rc·sc,  Q_r = ½ Σ rc² + ε,  Q_s = ½ Σ sc² + ε,  corr = A / √(Q_r Q_s),
// (halving keeps the reference's ε exactly) and L = (1 − corr)/2. A, Q_r and Q_s come from
// five off-diagonal sums (Σr, Σs, Σrs, Σr², Σs², in double), and r = zᵀz [N, N] is never
// formed: with u = z·1 [B], Y = z·S [B, N], K = z·zᵀ [B, B] and d_i = r_ii = Σ_b z_bi²,
//   Σr = ‖u‖² − Σ d,  Σrs = Σ Y∘z − Σ d_i s_ii,  Σr² = ‖K‖²_F − Σ d²  (tr(zᵀz zᵀz) = tr(zzᵀ zzᵀ)),
// and Σs, Σs² from s directly. Backward:
//   ∂L/∂r = −½ (sc / (2√(Q_r Q_s)) − A·rc / (2 Q_r^{3/2} √Q_s)) = G (off the diagonal, 0 on it),
// already of zero off-diagonal mean (so the centring passes it through); with G = α s + β r + γ
// off the diagonal,
//   ∂L/∂z = 2 z G = 2 (α Y + β K z + γ u 1ᵀ − z diag(α s_ii + β d_i + γ)),
// ∂L/∂c = (∂z − z (z·∂z)) / ‖c‖ per column; ∂L/∂x = ∂c − mean_b ∂c. At N = 500 units and a
// batch of 128 that is one N×N×B GEMM and two B×B×N ones (r = zᵀz and z·G were two N×N×B ones
// and their [N, N] passes), where the same ops through autograd were some 60 small LibTorch
// calls per layer and step, each waking the thread pool.
struct PairCorrelationFunction : public torch::autograd::Function<PairCorrelationFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& s) {
    const int64_t batch = x.size(0), n = x.size(1);
    torch::Tensor z = torch::empty({batch, n}, x.options());
    torch::Tensor norms = torch::empty({n}, x.options());
    torch::Tensor diagonal = torch::empty({n}, x.options());     // d_i = r_ii
    torch::Tensor row_sums = torch::empty({batch}, x.options());  // u = z·1
    torch::Tensor zs = torch::empty({batch, n}, x.options());     // Y = z·S
    torch::Tensor gram = torch::empty({batch, batch}, x.options());  // K = z·zᵀ
    const double pairs = static_cast<double>(n * (n - 1));  // counted twice
    double mean_r = 0, mean_s = 0, a = 0, q_r = 0, q_s = 0;
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "spatial_correlation_forward", [&] {
      using T = scalar_t;
      const T* xp = x.data_ptr<T>();
      T* zp = z.data_ptr<T>();
      T* np = norms.data_ptr<T>();
      T* dp = diagonal.data_ptr<T>();
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
          double unit_squares = 0;
          for (int64_t b = 0; b < batch; ++b) {
            const T value = static_cast<T>((xp[b * n + i] - mean) / norm);
            zp[b * n + i] = value;
            unit_squares += double(value) * value;
          }
          dp[i] = static_cast<T>(unit_squares);
        }
      });
      // Y = z·S and K = z·zᵀ through oneDNN on the intra-op threads (at::mm would wake
      // OpenBLAS's own pool).
      gemm(CblasNoTrans, CblasNoTrans, batch, n, n, zp, n, s.data_ptr<T>(), n,
           zs.data_ptr<T>(), n);
      gemm(CblasNoTrans, CblasTrans, batch, batch, n, zp, n, zp, n, gram.data_ptr<T>(), batch);
      const T* sp = s.data_ptr<T>();
      const T* yp = zs.data_ptr<T>();
      const T* kp = gram.data_ptr<T>();
      T* up = row_sums.data_ptr<T>();
      struct Sums {
        double r = 0, s = 0, rs = 0, rr = 0, ss = 0;
      };
      const auto add = [](Sums u, const Sums& v) {
        u.r += v.r, u.s += v.s, u.rs += v.rs, u.rr += v.rr, u.ss += v.ss;
        return u;
      };
      // Over s's rows: Σs, Σs² (all entries) and their diagonal; over the batch: ‖u‖²,
      // Σ Y∘z and ‖K‖²_F. Each row in kLanes interleaved partial sums the compiler keeps in
      // vector registers, then added in double.
      const Sums full = at::parallel_reduce(
          0, n + batch, 16, Sums{},
          [&](int64_t begin, int64_t end, Sums acc) NOSHARING_VECTORISED {
            constexpr int64_t kLanes = 16;
            for (int64_t row = begin; row < end; ++row) {
              if (row < n) {
                const T* si = sp + row * n;
                T ls[kLanes] = {}, ls2[kLanes] = {};
                int64_t j = 0;
                for (; j + kLanes <= n; j += kLanes) {
                  for (int64_t l = 0; l < kLanes; ++l) {
                    ls[l] += si[j + l];
                    ls2[l] += si[j + l] * si[j + l];
                  }
                }
                for (; j < n; ++j) ls[0] += si[j], ls2[0] += si[j] * si[j];
                for (int64_t l = 0; l < kLanes; ++l) acc.s += ls[l], acc.ss += ls2[l];
                continue;
              }
              const int64_t b = row - n;
              const T* zb = zp + b * n;
              const T* yb = yp + b * n;
              const T* kb = kp + b * batch;
              T lu[kLanes] = {}, lyz[kLanes] = {}, lk[kLanes] = {};
              int64_t i = 0;
              for (; i + kLanes <= n; i += kLanes) {
                for (int64_t l = 0; l < kLanes; ++l) {
                  lu[l] += zb[i + l];
                  lyz[l] += yb[i + l] * zb[i + l];
                }
              }
              for (; i < n; ++i) lu[0] += zb[i], lyz[0] += yb[i] * zb[i];
              int64_t c = 0;
              for (; c + kLanes <= batch; c += kLanes) {
                for (int64_t l = 0; l < kLanes; ++l) lk[l] += kb[c + l] * kb[c + l];
              }
              for (; c < batch; ++c) lk[0] += kb[c] * kb[c];
              double u = 0;
              for (int64_t l = 0; l < kLanes; ++l) {
                u += lu[l], acc.rs += lyz[l], acc.rr += lk[l];
              }
              up[b] = static_cast<T>(u);
              acc.r += u * u;
            }
            return acc;
          },
          add);
      Sums diag;
      for (int64_t i = 0; i < n; ++i) {
        const double d = dp[i], si = sp[i * n + i];
        diag.r += d, diag.s += si, diag.rs += d * si, diag.rr += d * d, diag.ss += si * si;
      }
      const Sums sums{full.r - diag.r, full.s - diag.s, full.rs - diag.rs, full.rr - diag.rr,
                      full.ss - diag.ss};
      mean_r = sums.r / pairs;
      mean_s = sums.s / pairs;
      // Σ (r − m_r)(s − m_s) = Σ rs − m_r Σ s − m_s Σ r + pairs·m_r·m_s, and so on.
      a = (sums.rs - mean_r * sums.s - mean_s * sums.r + pairs * mean_r * mean_s) / 2;
      q_r = std::max(0.0, sums.rr - sums.r * mean_r) / 2 + kQuadraticEpsilon;
      q_s = std::max(0.0, sums.ss - sums.s * mean_s) / 2 + kQuadraticEpsilon;
    });
    ctx->save_for_backward({z, norms, diagonal, row_sums, zs, gram, s.diagonal().contiguous()});
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
    const torch::Tensor &z = saved[0], &norms = saved[1], &diagonal = saved[2],
                        &row_sums = saved[3], &zs = saved[4], &gram = saved[5],
                        &s_diagonal = saved[6];
    const double mean_r = ctx->saved_data["mean_r"].toDouble();
    const double mean_s = ctx->saved_data["mean_s"].toDouble();
    const double a = ctx->saved_data["a"].toDouble();
    const double q_r = ctx->saved_data["q_r"].toDouble();
    const double q_s = ctx->saved_data["q_s"].toDouble();
    const double g = grad.item<double>();
    // 2·G = α s + β r + γ off the diagonal: α = −½/√(Q_r Q_s), β = ½ A/(Q_r^{3/2} √Q_s),
    // γ = −α m_s − β m_r, times the incoming gradient.
    const double along_s = -0.5 * g / std::sqrt(q_r * q_s);
    const double along_r = 0.5 * g * a / (q_r * std::sqrt(q_r * q_s));
    const double shift = -along_s * mean_s - along_r * mean_r;
    const int64_t batch = z.size(0), n = z.size(1);
    torch::Tensor grad_x = torch::empty({batch, n}, z.options());
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "spatial_correlation_backward", [&] {
      using T = scalar_t;
      const T* zp = z.data_ptr<T>();
      T* gp = grad_x.data_ptr<T>();
      // K z [B, N] first, then per element α Y + β (K z) + γ u − (α s_ii + β d_i + γ) z.
      gemm(CblasNoTrans, CblasNoTrans, batch, n, batch, gram.data_ptr<T>(), batch, zp, n, gp, n);
      const T* yp = zs.data_ptr<T>();
      const T* up = row_sums.data_ptr<T>();
      const T* dp = diagonal.data_ptr<T>();
      const T* sd = s_diagonal.data_ptr<T>();
      const T* np = norms.data_ptr<T>();
      const T cs = static_cast<T>(along_s), cr = static_cast<T>(along_r);
      const T cg = static_cast<T>(shift);
      at::parallel_for(0, batch, 16, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t b = begin; b < end; ++b) {
          const T ub = cg * up[b];
          for (int64_t i = 0; i < n; ++i) {
            gp[b * n + i] = cs * yp[b * n + i] + cr * gp[b * n + i] + ub -
                            (cs * sd[i] + cr * dp[i] + cg) * zp[b * n + i];
          }
        }
      });
      // ∂L/∂z → ∂L/∂x in place, a column at a time.
      at::parallel_for(0, n, 64, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t i = begin; i < end; ++i) {
          double along = 0;
          for (int64_t b = 0; b < batch; ++b) along += double(zp[b * n + i]) * gp[b * n + i];
          double mean = 0;
          for (int64_t b = 0; b < batch; ++b) {
            const double dc = (gp[b * n + i] - zp[b * n + i] * along) / np[i];
            gp[b * n + i] = static_cast<T>(dc);
            mean += dc;
          }
          mean /= static_cast<double>(batch);
          for (int64_t b = 0; b < batch; ++b) gp[b * n + i] = static_cast<T>(gp[b * n + i] - mean);
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
// ~2.4 ms a layer and step at N = 500 (measured, TopographicLossAlone). Computed in the
// output's precision from the coordinates split into y and x (contiguous: whole vectors per
// load): in float64 with interleaved coordinates the square roots and divisions were a
// quarter of the loss's time (perf).
torch::Tensor similarity_from_coordinates(const torch::Tensor& coordinates,
                                          torch::ScalarType dtype) {
  const int64_t n = coordinates.size(0);
  const torch::Tensor columns = coordinates.to(dtype).t().contiguous();  // [2, N]: y, x
  torch::Tensor out = torch::empty({n, n}, torch::TensorOptions().dtype(dtype));
  AT_DISPATCH_FLOATING_TYPES(dtype, "similarity_from_coordinates", [&] {
    using T = scalar_t;
    const T* ys = columns.data_ptr<T>();
    const T* xs = ys + n;
    T* s = out.data_ptr<T>();
    at::parallel_for(0, n, 32, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
      for (int64_t i = begin; i < end; ++i) {
        const T yi = ys[i], xi = xs[i];
        T* si = s + i * n;
        for (int64_t j = 0; j < n; ++j) {
          const T dy = yi - ys[j], dx = xi - xs[j];
          si[j] = T(1) / (std::sqrt(dy * dy + dx * dx) + T(1));
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
