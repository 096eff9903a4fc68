#include "nosharing/topography/cpu/spatial_correlation_function.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "nosharing/core/blas.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/topography/cpu/row_math.h"

namespace nosharing {
namespace {

constexpr double kNormEpsilon = 1e-12;  // in ‖c‖² (the reference's standardize_columns)
constexpr double kQuadraticEpsilon = 1e-12;  // in Q_r and Q_s

// L from responses x [B, N] and the similarities of the units' points: unit i sits at point
// p(i) of m points (`points` int64 [N]), s_ij = S[p(i), p(j)] with S [m, m] symmetric — m = N
// with p the identity for arbitrary similarities, m ≪ N on a column sheet, whose channels
// share their position's point (fmnist-lc-topo: ~29 points for 500 units). Fused, with a
// hand-written backward.
// Columns are standardised, z = c / ‖c‖ with c = x − mean_b x, so r = zᵀz. The off-diagonal
// entries hold every lower-triangle pair twice: the same means, and sums of products twice
// the lower triangle's. With rc, sc the off-diagonal entries centred (zero on the diagonal),
//   A = ½ Σ rc·sc,  Q_r = ½ Σ rc² + ε,  Q_s = ½ Σ sc² + ε,  corr = A / √(Q_r Q_s),
// (halving keeps the reference's ε exactly) and L = (1 − corr)/2. A, Q_r and Q_s come from
// five off-diagonal sums (Σr, Σs, Σrs, Σr², Σs², in double), and neither r = zᵀz nor s
// [N, N] is formed: with P [N, m] the one-hot points of the units, the point sums Z = z·P
// [B, m], W = Z·S [B, m] (so z·s = W Pᵀ, i.e. (z·s)_bi = W_b,p(i)), u = z·1 [B],
// K = z·zᵀ [B, B], d_i = r_ii = Σ_b z_bi² and n_q the units at point q,
//   Σr = ‖u‖² − Σ d,  Σrs = Σ W∘Z − Σ d_i S_p(i)p(i),  Σr² = ‖K‖²_F − Σ d²  (tr(zᵀz zᵀz) =
//   tr(zzᵀ zzᵀ)),  Σs = Σ n_q n_q' S_qq' − Σ n_q S_qq,  Σs² likewise. Backward:
//   ∂L/∂r = −½ (sc / (2√(Q_r Q_s)) − A·rc / (2 Q_r^{3/2} √Q_s)) = G (off the diagonal, 0 on it),
// already of zero off-diagonal mean (so the centring passes it through); with G = α s + β r + γ
// off the diagonal,
//   ∂L/∂z = 2 z G = 2 (α W Pᵀ + β K z + γ u 1ᵀ − z diag(α s_ii + β d_i + γ)),
// ∂L/∂c = (∂z − z (z·∂z)) / ‖c‖ per column; ∂L/∂x = ∂c − mean_b ∂c. At N = 500 units and a
// batch of 128 that is two B×B×N GEMMs and one B×m×m (r = zᵀz and z·G were two N×N×B ones and
// three [N, N] passes), where the same ops through autograd were some 60 small LibTorch calls
// per layer and step, each waking the thread pool.
struct PairCorrelationFunction : public torch::autograd::Function<PairCorrelationFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& s, const torch::Tensor& points) {
    const int64_t batch = x.size(0), n = x.size(1), m = s.size(0);
    const int64_t* point = points.data_ptr<int64_t>();
    std::vector<int64_t> units_at(static_cast<size_t>(m), 0);  // n_q
    for (int64_t i = 0; i < n; ++i) ++units_at[static_cast<size_t>(point[i])];
    torch::Tensor z = torch::empty({batch, n}, x.options());
    torch::Tensor norms = torch::empty({n}, x.options());
    torch::Tensor diagonal = torch::empty({n}, x.options());     // d_i = r_ii
    torch::Tensor row_sums = torch::empty({batch}, x.options());  // u = z·1
    // Every unit its own point (a hypercolumn sheet, the distances form): Z = z, no copy.
    bool own_points = m == n;
    for (int64_t i = 0; i < n && own_points; ++i) own_points = point[i] == i;
    torch::Tensor point_sums =
        own_points ? torch::Tensor() : torch::zeros({batch, m}, x.options());  // Z = z·P
    torch::Tensor zs = torch::empty({batch, m}, x.options());     // W = Z·S
    torch::Tensor gram = torch::empty({batch, batch}, x.options());  // K = z·zᵀ
    const double pairs = static_cast<double>(n * (n - 1));  // counted twice
    double mean_r = 0, mean_s = 0, a = 0, q_r = 0, q_s = 0;
    bool constant_s = true;
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
      // Z = z·P, then W = Z·S and K = z·zᵀ through oneDNN on the intra-op threads (at::mm
      // would wake OpenBLAS's own pool).
      const T* zq = zp;
      if (!own_points) {
        T* sums = point_sums.data_ptr<T>();
        at::parallel_for(0, batch, 16, [&](int64_t begin, int64_t end) {
          for (int64_t b = begin; b < end; ++b) {
            for (int64_t i = 0; i < n; ++i) sums[b * m + point[i]] += zp[b * n + i];
          }
        });
        zq = sums;
      }
      gemm(CblasNoTrans, CblasNoTrans, batch, m, m, zq, m, s.data_ptr<T>(), m,
           zs.data_ptr<T>(), m);
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
      // Σs, Σs² over the m points' pairs weighted by their units; over the batch: ‖u‖²,
      // Σ W∘Z and ‖K‖²_F, a row at a time, added in double.
      Sums full;
      for (int64_t q = 0; q < m; ++q) {
        for (int64_t q2 = 0; q2 < m; ++q2) {
          const double weight = double(units_at[static_cast<size_t>(q)]) *
                                double(units_at[static_cast<size_t>(q2)]);
          const double sq = sp[q * m + q2];
          full.s += weight * sq;
          full.ss += weight * sq * sq;
        }
      }
      full = add(full, at::parallel_reduce(
          0, batch, 8, Sums{},
          [&](int64_t begin, int64_t end, Sums acc) NOSHARING_VECTORISED {
            for (int64_t b = begin; b < end; ++b) {
              const T* zqb = zq + b * m;
              double u = 0;  // Σ_i z_bi, summed over the points
              for (int64_t q = 0; q < m; ++q) u += zqb[q];
              up[b] = static_cast<T>(u);
              acc.r += u * u;
              acc.rs += row_math::dot(yp + b * m, zqb, m);
              acc.rr += row_math::dot(kp + b * batch, kp + b * batch, batch);
            }
            return acc;
          },
          add));
      Sums diag;
      for (int64_t i = 0; i < n; ++i) {
        const double d = dp[i], si = sp[point[i] * (m + 1)];
        diag.r += d, diag.s += si, diag.rs += d * si, diag.rr += d * d, diag.ss += si * si;
      }
      const Sums sums{full.r - diag.r, full.s - diag.s, full.rs - diag.rs, full.rr - diag.rr,
                      full.ss - diag.ss};
      // All similarities equal (one point, or equal distances): corr = 0, L = ½ and no
      // gradient, exactly; the sums' rounding would leave A ≈ 1e-16 against Q_s = ε.
      std::optional<T> pair_similarity;  // of the first pair of units met
      for (int64_t q = 0; q < m && constant_s; ++q) {
        for (int64_t q2 = 0; q2 < m; ++q2) {
          const int64_t units_q = units_at[static_cast<size_t>(q)];
          const int64_t units_q2 = units_at[static_cast<size_t>(q2)];
          if (q == q2 ? units_q < 2 : units_q == 0 || units_q2 == 0) continue;  // no pair
          if (!pair_similarity) pair_similarity = sp[q * m + q2];
          if (sp[q * m + q2] != *pair_similarity) {
            constant_s = false;
            break;
          }
        }
      }
      mean_r = sums.r / pairs;
      mean_s = sums.s / pairs;
      // Σ (r − m_r)(s − m_s) = Σ rs − m_r Σ s − m_s Σ r + pairs·m_r·m_s, and so on.
      a = constant_s
              ? 0.0
              : (sums.rs - mean_r * sums.s - mean_s * sums.r + pairs * mean_r * mean_s) / 2;
      q_r = std::max(0.0, sums.rr - sums.r * mean_r) / 2 + kQuadraticEpsilon;
      q_s = std::max(0.0, sums.ss - sums.s * mean_s) / 2 + kQuadraticEpsilon;
    });
    ctx->save_for_backward({z, norms, diagonal, row_sums, zs, gram, s.diagonal().contiguous(),
                            points});
    ctx->saved_data["mean_r"] = mean_r;
    ctx->saved_data["mean_s"] = mean_s;
    ctx->saved_data["a"] = a;
    ctx->saved_data["q_r"] = q_r;
    ctx->saved_data["q_s"] = q_s;
    ctx->saved_data["constant_s"] = constant_s;
    ctx->saved_data["own_points"] = own_points;
    return torch::full({}, (1 - a / std::sqrt(q_r * q_s)) / 2, x.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "spatial_correlation_loss: double backward (create_graph=true) is not "
                "supported; use spatial_correlation_loss_reference");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}, {}};
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &z = saved[0], &norms = saved[1], &diagonal = saved[2],
                        &row_sums = saved[3], &zs = saved[4], &gram = saved[5],
                        &s_diagonal = saved[6], &points = saved[7];
    const double mean_r = ctx->saved_data["mean_r"].toDouble();
    const double mean_s = ctx->saved_data["mean_s"].toDouble();
    const double a = ctx->saved_data["a"].toDouble();
    const double q_r = ctx->saved_data["q_r"].toDouble();
    const double q_s = ctx->saved_data["q_s"].toDouble();
    const int64_t batch = z.size(0), n = z.size(1);
    if (ctx->saved_data["constant_s"].toBool()) {
      return {torch::zeros({batch, n}, z.options()), {}, {}};
    }
    const double g = grad.item<double>();
    // 2·G = α s + β r + γ off the diagonal: α = −½/√(Q_r Q_s), β = ½ A/(Q_r^{3/2} √Q_s),
    // γ = −α m_s − β m_r, times the incoming gradient.
    const double along_s = -0.5 * g / std::sqrt(q_r * q_s);
    const double along_r = 0.5 * g * a / (q_r * std::sqrt(q_r * q_s));
    const double shift = -along_s * mean_s - along_r * mean_r;
    torch::Tensor grad_x = torch::empty({batch, n}, z.options());
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "spatial_correlation_backward", [&] {
      using T = scalar_t;
      const T* zp = z.data_ptr<T>();
      T* gp = grad_x.data_ptr<T>();
      // K z [B, N] first, then per element α W_b,p(i) + β (K z) + γ u − (α s_ii + β d_i + γ) z.
      gemm(CblasNoTrans, CblasNoTrans, batch, n, batch, gram.data_ptr<T>(), batch, zp, n, gp, n);
      const int64_t m = zs.size(1);
      const int64_t* point = points.data_ptr<int64_t>();
      const T* yp = zs.data_ptr<T>();
      const T* up = row_sums.data_ptr<T>();
      const T* dp = diagonal.data_ptr<T>();
      const T* sd = s_diagonal.data_ptr<T>();
      const T* np = norms.data_ptr<T>();
      const T cs = static_cast<T>(along_s), cr = static_cast<T>(along_r);
      const T cg = static_cast<T>(shift);
      // The diagonal term's factor per unit, once rather than per image.
      std::vector<T> diagonal_factor(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        diagonal_factor[static_cast<size_t>(i)] = cs * sd[point[i]] + cr * dp[i] + cg;
      }
      const T* df = diagonal_factor.data();
      const bool own_points = ctx->saved_data["own_points"].toBool();
      at::parallel_for(0, batch, 16, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t b = begin; b < end; ++b) {
          const T ub = cg * up[b];
          T* gb = gp + b * n;
          const T* zb = zp + b * n;
          const T* yb = yp + b * m;
          if (own_points) {  // W's columns are the units': a contiguous, vectorised pass
            for (int64_t i = 0; i < n; ++i) {
              gb[i] = cs * yb[i] + cr * gb[i] + ub - df[i] * zb[i];
            }
          } else {
            for (int64_t i = 0; i < n; ++i) {
              gb[i] = cs * yb[point[i]] + cr * gb[i] + ub - df[i] * zb[i];
            }
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
    return {grad_x, {}, {}};
  }
};

}  // namespace

torch::Tensor pair_correlation_loss(const torch::Tensor& responses, const torch::Tensor& similarity,
                                    const torch::Tensor& points) {
  return PairCorrelationFunction::apply(responses, similarity, points);
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

}  // namespace nosharing
