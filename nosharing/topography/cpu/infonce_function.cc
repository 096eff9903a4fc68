#include "nosharing/topography/cpu/infonce_function.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/core/blas.h"
#include "nosharing/topography/cpu/row_math.h"

namespace nosharing {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using row_math::dot;
using row_math::normalise;
using row_math::normalise_backward;

// Which columns the loss reads: the I images holding anchors, each anchor's image and
// position, and the negatives' (b, p).
struct Sample {
  int64_t batch, positions, channels, images;
  std::vector<int64_t> image;         // i → b
  std::vector<int64_t> anchor_image;  // a → i
  std::vector<int64_t> anchor_position, negative_image, negative_position;
};

Sample make_sample(const torch::Tensor& columns, const torch::Tensor& anchors,
                   const torch::Tensor& negatives) {
  Sample s;
  s.batch = columns.size(0);
  s.positions = columns.size(1);
  s.channels = columns.size(2);
  const int64_t total = s.batch * s.positions;
  std::vector<int64_t> index(static_cast<size_t>(s.batch), -1);
  const int64_t* a = anchors.data_ptr<int64_t>();
  for (int64_t n = 0; n < anchors.numel(); ++n) {
    TORCH_CHECK(a[n] >= 0 && a[n] < total, "infonce_loss: anchor ", a[n], " outside the ",
                total, " columns");
    const auto b = static_cast<size_t>(a[n] / s.positions);
    if (index[b] < 0) {
      index[b] = static_cast<int64_t>(s.image.size());
      s.image.push_back(static_cast<int64_t>(b));
    }
    s.anchor_image.push_back(index[b]);
    s.anchor_position.push_back(a[n] % s.positions);
  }
  s.images = static_cast<int64_t>(s.image.size());
  const int64_t* g = negatives.data_ptr<int64_t>();
  for (int64_t n = 0; n < negatives.numel(); ++n) {
    TORCH_CHECK(g[n] >= 0 && g[n] < total, "infonce_loss: negative ", g[n], " outside the ",
                total, " columns");
    s.negative_image.push_back(g[n] / s.positions);
    s.negative_position.push_back(g[n] % s.positions);
  }
  return s;
}

struct InfoNceFunction : public torch::autograd::Function<InfoNceFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& columns,
                               const torch::Tensor& weights, const torch::Tensor& anchors,
                               const torch::Tensor& negatives, double tau,
                               std::shared_ptr<ResponseGradientSink> sink) {
    const Sample s = make_sample(columns, anchors, negatives);
    const int64_t I = s.images, P = s.positions, C = s.channels;
    const auto A = static_cast<int64_t>(s.anchor_image.size());
    const auto N = static_cast<int64_t>(s.negative_image.size());
    const auto options = columns.options();
    torch::Tensor images = torch::empty({I, P, C}, options);  // ẑ of the anchor images
    torch::Tensor image_norms = torch::empty({I, P}, options);
    torch::Tensor negative_z = torch::empty({N, C}, options);
    torch::Tensor negative_norms = torch::empty({N}, options);
    torch::Tensor anchor_z = torch::empty({A, C}, options);
    torch::Tensor positive = torch::empty({A}, options), lse = torch::empty({A}, options);
    torch::Tensor target, target_norms = torch::empty({A}, options), logits;
    double total = 0;
    AT_DISPATCH_FLOATING_TYPES(columns.scalar_type(), "infonce_forward", [&] {
      using T = scalar_t;
      const T* x = columns.data_ptr<T>();
      const int64_t sb = columns.stride(0), sp = columns.stride(1), sc = columns.stride(2);
      const auto gather = [&](int64_t b, int64_t p, T* out) {
        const T* row = x + b * sb + p * sp;
        for (int64_t c = 0; c < C; ++c) out[c] = row[c * sc];
      };
      T* zi = images.data_ptr<T>();
      T* ni = image_norms.data_ptr<T>();
      // Every column of the anchor images (with anchors spread over the batch, most of the
      // layer's response): parallel over images.
      at::parallel_for(0, I, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t i = begin; i < end; ++i) {
          for (int64_t p = 0; p < P; ++p) {
            T* v = zi + (i * P + p) * C;
            gather(s.image[static_cast<size_t>(i)], p, v);
            ni[i * P + p] = normalise(v, C);
          }
        }
      });
      T* zn = negative_z.data_ptr<T>();
      for (int64_t n = 0; n < N; ++n) {
        gather(s.negative_image[static_cast<size_t>(n)], s.negative_position[static_cast<size_t>(n)],
               zn + n * C);
        negative_norms.data_ptr<T>()[n] = normalise(zn + n * C, C);
      }
      T* za = anchor_z.data_ptr<T>();
      for (int64_t a = 0; a < A; ++a) {
        const int64_t i = s.anchor_image[static_cast<size_t>(a)];
        const int64_t p = s.anchor_position[static_cast<size_t>(a)];
        std::copy(zi + (i * P + p) * C, zi + (i * P + p + 1) * C, za + a * C);
      }
    });
    // t_a = normalize(Σ_j W_pj ẑ_bj): per anchor, P axpys over its image's C-vectors (the
    // layout [I, P, C] keeps them contiguous). 2·A·P·C FLOP, too small a product for BLAS's
    // per-call cost to pay (a batched GEMM over the images measured slower).
    target = torch::empty({A, C}, options);
    AT_DISPATCH_FLOATING_TYPES(columns.scalar_type(), "infonce_targets", [&] {
      using T = scalar_t;
      const T* w = weights.data_ptr<T>();
      const T* zi = images.data_ptr<T>();
      T* t = target.data_ptr<T>();
      at::parallel_for(0, A, 8, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t a = begin; a < end; ++a) {
          const int64_t i = s.anchor_image[static_cast<size_t>(a)];
          const T* row = w + s.anchor_position[static_cast<size_t>(a)] * P;
          T* out = t + a * C;
          std::fill(out, out + C, T(0));
          for (int64_t j = 0; j < P; ++j) {
            const T wj = row[j];
            const T* z = zi + (i * P + j) * C;
            for (int64_t c = 0; c < C; ++c) out[c] += wj * z[c];
          }
          target_norms.data_ptr<T>()[a] = normalise(out, C);
          positive.data_ptr<T>()[a] = dot(anchor_z.data_ptr<T>() + a * C, out, C) / T(tau);
        }
      });
    });
    // s_an = ẑ_a·ẑ_n/τ [A, N]: one GEMM through oneDNN on the intra-op threads (at::mm's
    // OpenBLAS would wake its own pool, ~1.5 ms a call when profiled; loops of dots cost
    // ~0.35 ms a layer). Then, per anchor, same-image negatives masked and the log-sum-exp
    // over [s⁺_a, s_a·]; the exponentials through ATen's vectorised exp.
    logits = torch::empty({A, N}, options);
    AT_DISPATCH_FLOATING_TYPES(columns.scalar_type(), "infonce_logits", [&] {
      using T = scalar_t;
      T* l = logits.data_ptr<T>();
      gemm(CblasNoTrans, CblasTrans, A, N, C, anchor_z.data_ptr<T>(), C,
           negative_z.data_ptr<T>(), C, l, N);
      const T* sp = positive.data_ptr<T>();
      T* top = lse.data_ptr<T>();  // the row maxima for now
      const T inv_tau = T(1) / static_cast<T>(tau);
      at::parallel_for(0, A, 16, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t a = begin; a < end; ++a) {
          const int64_t b = s.image[static_cast<size_t>(s.anchor_image[static_cast<size_t>(a)])];
          T* row = l + a * N;
          T m = sp[a];
          for (int64_t n = 0; n < N; ++n) {
            if (s.negative_image[static_cast<size_t>(n)] == b) {
              row[n] = -std::numeric_limits<T>::infinity();  // same image: masked
            } else {
              row[n] *= inv_tau;
              m = std::max(m, row[n]);
            }
          }
          top[a] = m;
        }
      });
    });
    // The softmax over the negatives, p_an = exp(s_an − lse_a), is what the backward needs:
    // kept instead of the logits, so their exponentials are taken once.
    torch::Tensor softmax = (logits - lse.unsqueeze(1)).exp_();  // exp(s − max)
    const torch::Tensor sums = softmax.sum(1) + (positive - lse).exp_();
    softmax.div_(sums.unsqueeze(1));
    lse.add_(sums.log());
    AT_DISPATCH_FLOATING_TYPES(columns.scalar_type(), "infonce_total", [&] {
      const scalar_t* out = lse.data_ptr<scalar_t>();
      const scalar_t* sp = positive.data_ptr<scalar_t>();
      for (int64_t a = 0; a < A; ++a) total += static_cast<double>(out[a] - sp[a]);
    });
    ctx->save_for_backward({images, image_norms, negative_z, negative_norms, weights, anchor_z,
                            target, target_norms, positive, lse, softmax});
    ctx->saved_data["anchors"] = anchors;
    ctx->saved_data["negatives"] = negatives;
    ctx->saved_data["tau"] = tau;
    ctx->saved_data["sink"] = sink_capsule(std::move(sink));
    ctx->saved_data["sizes"] = columns.sizes();
    ctx->saved_data["strides"] = columns.strides();
    return torch::full({}, total / static_cast<double>(A), options);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "infonce_loss: double backward (create_graph=true) is not supported; use "
                "infonce_loss_reference for higher-order gradients");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}, {}, {}, {}, {}};
    const auto v = ctx->get_saved_variables();
    const torch::Tensor &images = v[0], &image_norms = v[1], &negative_z = v[2],
                        &negative_norms = v[3], &weights = v[4], &anchor_z = v[5], &target = v[6],
                        &target_norms = v[7], &positive = v[8], &lse = v[9], &softmax = v[10];
    const double tau = ctx->saved_data["tau"].toDouble();
    const auto sizes = ctx->saved_data["sizes"].toIntVector();
    const auto strides = ctx->saved_data["strides"].toIntVector();
    const torch::Tensor columns_shape = torch::empty(sizes, images.options());
    const Sample s = make_sample(columns_shape, ctx->saved_data["anchors"].toTensor(),
                                 ctx->saved_data["negatives"].toTensor());
    const int64_t I = s.images, P = s.positions, C = s.channels;
    const int64_t A = anchor_z.size(0), N = negative_z.size(0);
    // ∂L/∂s⁺_a = (p⁺_a − 1)/A, ∂L/∂s_an = p_an/A, p the softmax over [s⁺_a, s_a·]
    // (p = exp(s − lse); masked logits are −∞, so their p is 0).
    const double q = grad.item<double>() / static_cast<double>(A);
    const torch::Tensor d_positive = ((positive - lse).exp_() - 1).mul_(q);
    // The logits were ẑ_a·ẑ_n/τ: d_logits/τ is what the two products below need.
    const torch::Tensor d_logits_over_tau = softmax * (q / tau);
    // d_anchor = d_logits·ẑ_n/τ [A, C] (s⁺'s term added below), d_negative = d_logitsᵀ·ẑ_a/τ
    // [N, C]: two GEMMs, for the reason of the forward's.
    torch::Tensor d_anchor = torch::empty({A, C}, images.options());
    torch::Tensor d_negative = torch::empty({N, C}, images.options());
    AT_DISPATCH_FLOATING_TYPES(images.scalar_type(), "infonce_logits_backward", [&] {
      using T = scalar_t;
      const T* dl = d_logits_over_tau.data_ptr<T>();
      gemm(CblasNoTrans, CblasNoTrans, A, C, N, dl, N, negative_z.data_ptr<T>(), C,
           d_anchor.data_ptr<T>(), C);
      gemm(CblasTrans, CblasNoTrans, N, C, A, dl, N, anchor_z.data_ptr<T>(), C,
           d_negative.data_ptr<T>(), C);
    });
    torch::Tensor d_target = torch::empty({A, C}, images.options());
    torch::Tensor d_images = torch::zeros({I, P, C}, images.options());
    AT_DISPATCH_FLOATING_TYPES(images.scalar_type(), "infonce_targets_backward", [&] {
      using T = scalar_t;
      const T* za = anchor_z.data_ptr<T>();
      const T* t = target.data_ptr<T>();
      T* da = d_anchor.data_ptr<T>();
      T* dt = d_target.data_ptr<T>();
      for (int64_t a = 0; a < A; ++a) {
        const T dp = d_positive.data_ptr<T>()[a] / T(tau);
        for (int64_t c = 0; c < C; ++c) {
          da[a * C + c] += dp * t[a * C + c];
          dt[a * C + c] = dp * za[a * C + c];
        }
        normalise_backward(dt + a * C, t + a * C, target_norms.data_ptr<T>()[a], C);
      }
      // Through the mixtures, ∂ẑ_bj += W_pj ∂m_a for the anchors of image b: parallel over
      // images, each written by its own anchors only.
      std::vector<std::vector<int64_t>> by_image(static_cast<size_t>(I));
      for (int64_t a = 0; a < A; ++a) {
        by_image[static_cast<size_t>(s.anchor_image[static_cast<size_t>(a)])].push_back(a);
      }
      const T* w = weights.data_ptr<T>();
      T* di = d_images.data_ptr<T>();
      at::parallel_for(0, I, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
        for (int64_t i = begin; i < end; ++i) {
          for (const int64_t a : by_image[static_cast<size_t>(i)]) {
            const T* row = w + s.anchor_position[static_cast<size_t>(a)] * P;
            const T* g = dt + a * C;
            for (int64_t j = 0; j < P; ++j) {
              const T wj = row[j];
              T* z = di + (i * P + j) * C;
              for (int64_t c = 0; c < C; ++c) z[c] += wj * g[c];
            }
          }
        }
      });
    });
    // The gradient in the columns' layout x (strides sb, sp, sc): an image with anchors gets
    // its ∂ẑ rows through the normalisation, then the negatives add theirs. Written, every
    // element once (the images without anchors zeros, no zero-filled page of the whole
    // response first), or added into a gradient (`accumulate`: the tap's, through the sink).
    const auto scatter = [s, d_images, d_anchor, d_negative, images, image_norms, negative_z,
                          negative_norms](const torch::Tensor& out, bool accumulate) {
      AT_DISPATCH_FLOATING_TYPES(images.scalar_type(), "infonce_columns_backward", [&] {
        using T = scalar_t;
        const int64_t P = s.positions, C = s.channels, I = s.images;
        T* di = d_images.data_ptr<T>();
        const T* da = d_anchor.data_ptr<T>();
        for (int64_t a = 0; a < d_anchor.size(0); ++a) {
          T* row = di + (s.anchor_image[static_cast<size_t>(a)] * P +
                         s.anchor_position[static_cast<size_t>(a)]) * C;
          for (int64_t c = 0; c < C; ++c) row[c] += da[a * C + c];
        }
        std::vector<int64_t> image_of_batch(static_cast<size_t>(s.batch), -1);
        for (int64_t i = 0; i < I; ++i) {
          image_of_batch[static_cast<size_t>(s.image[static_cast<size_t>(i)])] = i;
        }
        T* x = out.data_ptr<T>();
        const int64_t sb = out.stride(0), sp = out.stride(1), sc = out.stride(2);
        const T* zi = images.data_ptr<T>();
        const T* ni = image_norms.data_ptr<T>();
        // An image's P·C values one dense block (NCHW seen as [B, P, C], or [B, P, C] itself):
        // the images without anchors are zeroed a block at a time.
        const bool image_blocks = sb == P * C && ((sp == 1 && sc == P) || (sp == C && sc == 1));
        at::parallel_for(0, s.batch, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
          for (int64_t b = begin; b < end; ++b) {
            const int64_t i = image_of_batch[static_cast<size_t>(b)];
            if (i < 0 && accumulate) continue;
            if (i < 0 && image_blocks) {
              std::fill(x + b * sb, x + (b + 1) * sb, T(0));
              continue;
            }
            for (int64_t p = 0; p < P; ++p) {
              T* row = x + b * sb + p * sp;
              if (i < 0) {
                for (int64_t c = 0; c < C; ++c) row[c * sc] = T(0);
                continue;
              }
              T* g = di + (i * P + p) * C;
              normalise_backward(g, zi + (i * P + p) * C, ni[i * P + p], C);
              if (accumulate) {
                for (int64_t c = 0; c < C; ++c) row[c * sc] += g[c];
              } else {
                for (int64_t c = 0; c < C; ++c) row[c * sc] = g[c];
              }
            }
          }
        });
        T* dn = d_negative.data_ptr<T>();
        const T* zn = negative_z.data_ptr<T>();
        for (int64_t n = 0; n < d_negative.size(0); ++n) {  // serial: negatives may share a column
          normalise_backward(dn + n * C, zn + n * C, negative_norms.data_ptr<T>()[n], C);
          T* row = x + s.negative_image[static_cast<size_t>(n)] * sb +
                   s.negative_position[static_cast<size_t>(n)] * sp;
          for (int64_t c = 0; c < C; ++c) row[c * sc] += dn[n * C + c];
        }
      });
    };
    const auto sink = sink_from_capsule(ctx->saved_data["sink"]);
    if (sink != nullptr) {
      // The columns are the tapped responses [B, C, H, W] seen as [B, P, C]: the tap's
      // gradient seen the same way (a view for its layouts, where H and W merge; otherwise
      // through a copy added back).
      sink->defer([scatter](const torch::Tensor& grad) {
        const bool mergeable = grad.stride(2) == grad.size(3) * grad.stride(3);
        if (mergeable) {
          scatter(grad.flatten(2).transpose(1, 2), /*accumulate=*/true);
        } else {
          const torch::Tensor dense = torch::zeros(grad.sizes(), grad.options());
          scatter(dense.flatten(2).transpose(1, 2), /*accumulate=*/true);
          grad.add_(dense);
        }
      });
      return {{}, {}, {}, {}, {}, {}};
    }
    torch::Tensor out = pooled_empty_strided(sizes, strides, images.options());
    scatter(out, /*accumulate=*/false);
    return {out, {}, {}, {}, {}, {}};
  }
};

}  // namespace

torch::Tensor infonce_loss_fused(const torch::Tensor& columns, const torch::Tensor& weights,
                                 const torch::Tensor& anchors, const torch::Tensor& negatives,
                                 double tau, std::shared_ptr<ResponseGradientSink> sink) {
  TORCH_CHECK(columns.dim() == 3 && weights.dim() == 2 && weights.size(0) == columns.size(1) &&
                  weights.size(1) == columns.size(1) && columns.device().is_cpu(),
              "infonce_loss: expected CPU columns [B, P, C] and weights [P, P], got ",
              columns.sizes(), " and ", weights.sizes());
  TORCH_CHECK(tau > 0, "infonce_loss: tau ", tau, "; expected > 0");
  // A permutation of a contiguous tensor (a layer's NCHW seen as [B, P, C]) keeps its strides,
  // so its gradient comes back in the same layout; anything else is made contiguous first.
  const torch::Tensor source =
      columns.is_non_overlapping_and_dense() ? columns : columns.contiguous();
  return InfoNceFunction::apply(source, weights.to(columns.scalar_type()).contiguous(),
                                anchors.to(torch::kCPU, torch::kInt64).contiguous(),
                                negatives.to(torch::kCPU, torch::kInt64).contiguous(), tau,
                                std::move(sink));
}

}  // namespace nosharing
