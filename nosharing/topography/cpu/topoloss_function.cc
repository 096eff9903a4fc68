#include "nosharing/topography/cpu/topoloss_function.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/functional/upsampling.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/topography/cpu/gradient_target.h"
#include "nosharing/topography/cpu/row_math.h"

namespace nosharing {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using row_math::kEpsilon;

constexpr int64_t kBlurredCosineGrain = 16;  // rows per parallel task

// The loops over cells run in the weight's memory order (row r is cell
// geo.cells_of_rows[r]), so the reads of W and the writes of its gradient stream, and the
// scattered reads go to the small down-sampled grid (1/f² of W). In grid order every row of W
// was a cache miss (perf: a quarter of the backward on loading the row).

// Σ_t scale[t]·src[t] over `taps` (1–4) rows of D values into `out`, in one pass: one store
// per element instead of a fill and a read-modify-write per tap.
template <typename T>
NOSHARING_INLINE void combine_rows(const T* const* src, const T* scale, int taps, int64_t depth,
                                   T* __restrict out) {
  switch (taps) {
    case 1:
      for (int64_t k = 0; k < depth; ++k) out[k] = scale[0] * src[0][k];
      break;
    case 2:
      for (int64_t k = 0; k < depth; ++k) out[k] = scale[0] * src[0][k] + scale[1] * src[1][k];
      break;
    case 3:
      for (int64_t k = 0; k < depth; ++k) {
        out[k] = scale[0] * src[0][k] + scale[1] * src[1][k] + scale[2] * src[2][k];
      }
      break;
    default:
      for (int64_t k = 0; k < depth; ++k) {
        out[k] = scale[0] * src[0][k] + scale[1] * src[1][k] + scale[2] * src[2][k] +
                 scale[3] * src[3][k];
      }
  }
}

// The down-sampled grids L = D_y D_x G, [G·h·w + 3 zero padding rows, D].
template <typename T>
void downsample(const T* w, const BlurredCosineGeometry& geo, int64_t depth, T* low) {
  const int64_t h = geo.down_y.out, wd = geo.down_x.out;
  std::fill(low + geo.low_rows() * depth, low + (geo.low_rows() + kPaddingRows) * depth, T(0));
  at::parallel_for(0, geo.low_rows(), 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t cell = begin; cell < end; ++cell) {
      const int64_t g = cell / (h * wd), ky = cell / wd % h, kx = cell % wd;
      const T* src[4];
      T scale[4];
      int taps = 0;
      for (const auto& [a, wy] : geo.down_y.rows[static_cast<size_t>(ky)]) {
        for (const auto& [b, wx] : geo.down_x.rows[static_cast<size_t>(kx)]) {
          scale[taps] = static_cast<T>(wy * wx);
          src[taps++] =
              w + geo.rows[static_cast<size_t>((g * geo.height + a) * geo.width + b)] * depth;
        }
      }
      combine_rows(src, scale, taps, depth, low + cell * depth);
    }
  });
}

// Per weight row: v·b, v·v and b·b of the row v and its blurred grid value b = Ĝ_cell, in one
// pass that forms b from its four taps (16 interleaved lanes per sum, as row_math::dot).
template <typename T>
struct RowDots {
  T vb, vv, bb;
};

template <typename T>
NOSHARING_INLINE RowDots<T> blurred_row_dots(const T* __restrict v, const T* low,
                                             const BlurTaps& taps, int64_t depth) {
  const T* __restrict r0 = low + taps.low[0] * depth;
  const T* __restrict r1 = low + taps.low[1] * depth;
  const T* __restrict r2 = low + taps.low[2] * depth;
  const T* __restrict r3 = low + taps.low[3] * depth;
  const T s0 = static_cast<T>(taps.weight[0]), s1 = static_cast<T>(taps.weight[1]),
          s2 = static_cast<T>(taps.weight[2]), s3 = static_cast<T>(taps.weight[3]);
  constexpr int64_t kLanes = 16;
  T vb[kLanes] = {}, vv[kLanes] = {}, bb[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= depth; i += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) {
      const T b = s0 * r0[i + l] + s1 * r1[i + l] + s2 * r2[i + l] + s3 * r3[i + l];
      vb[l] += v[i + l] * b;
      vv[l] += v[i + l] * v[i + l];
      bb[l] += b * b;
    }
  }
  RowDots<T> tail{0, 0, 0};
  for (; i < depth; ++i) {
    const T b = s0 * r0[i] + s1 * r1[i] + s2 * r2[i] + s3 * r3[i];
    tail.vb += v[i] * b;
    tail.vv += v[i] * v[i];
    tail.bb += b * b;
  }
  for (int64_t width = kLanes / 2; width > 0; width /= 2) {
    for (int64_t l = 0; l < width; ++l) {
      vb[l] += vb[l + width];
      vv[l] += vv[l + width];
      bb[l] += bb[l + width];
    }
  }
  return {vb[0] + tail.vb, vv[0] + tail.vv, bb[0] + tail.bb};
}

// The forward: per row, its three dots into `dots` [P·C, 3] (the backward's cosines and
// norms), and the sum of the cosines.
template <typename T>
double forward_sum(const T* w, const T* low, const BlurredCosineGeometry& geo, int64_t depth,
                   T* dots) {
  return at::parallel_reduce(
      0, geo.cells(), kBlurredCosineGrain, 0.0,
      [&](int64_t begin, int64_t end, double sum) NOSHARING_VECTORISED {
        for (int64_t row = begin; row < end; ++row) {
          const RowDots<T> d =
              blurred_row_dots(w + row * depth, low, geo.taps[static_cast<size_t>(row)], depth);
          dots[3 * row] = d.vb;
          dots[3 * row + 1] = d.vv;
          dots[3 * row + 2] = d.bb;
          const T nv = std::max<T>(std::sqrt(d.vv), T(kEpsilon));
          const T nb = std::max<T>(std::sqrt(d.bb), T(kEpsilon));
          sum += static_cast<double>(d.vb / (nv * nb));
        }
        return sum;
      },
      std::plus<double>());
}

// One row of the backward: b re-formed from its four taps r0..r3, the direct term into gv and
// the pull into the four rows d0..d3 of ∂S/∂L (distinct: BlurTaps). factors = (scale/(‖v‖‖b‖),
// scale·cos/‖v‖², scale/(‖v‖‖b‖), scale·cos/‖b‖²). Restrict-qualified parameters: on local
// pointers GCC ignored the qualifier and kept the loop scalar.
template <bool kAccumulate, typename T>
NOSHARING_INLINE void backward_row(const T* __restrict v, const T* __restrict r0,
                                   const T* __restrict r1, const T* __restrict r2,
                                   const T* __restrict r3, const T (&s)[4],
                                   std::array<T, 4> factors, int64_t depth, T* __restrict gv,
                                   T* __restrict d0, T* __restrict d1, T* __restrict d2,
                                   T* __restrict d3) {
  const auto [direct_b, direct_v, pull_v, pull_b] = factors;
  for (int64_t k = 0; k < depth; ++k) {
    const T b = s[0] * r0[k] + s[1] * r1[k] + s[2] * r2[k] + s[3] * r3[k];
    if constexpr (kAccumulate) {
      gv[k] += direct_b * b - direct_v * v[k];
    } else {
      gv[k] = direct_b * b - direct_v * v[k];
    }
    const T pull = pull_v * v[k] - pull_b * b;
    d0[k] += s[0] * pull;
    d1[k] += s[1] * pull;
    d2[k] += s[2] * pull;
    d3[k] += s[3] * pull;
  }
}

// ∂S/∂G: per row, the direct term (b̂ − cos·v̂)/‖v‖ written into the row, and the blur term
// (v̂ − cos·b̂)/‖b‖ pulled back through U into per-task ∂S/∂L buffers (its four taps, in the
// same pass that re-forms b), then through D (by columns: every row gathers from the
// down-sampled cells that read it). Added into grad_w when `accumulate`.
template <typename T>
void backward_rows(const T* w, const T* low, const T* dots, const BlurredCosineGeometry& geo,
                   int64_t depth, T scale, bool accumulate, T* grad_w) {
  const int64_t rows = geo.cells();
  const int64_t low_size = (geo.low_rows() + kPaddingRows) * depth;
  const int64_t tasks = std::max<int64_t>(1, at::get_num_threads());
  // One ∂S/∂L per task, from the buffer pool: fresh each call they page-faulted every step.
  const torch::Tensor grad_low_buffer =
      pooled_empty({tasks, low_size}, torch::CPU(c10::CppTypeToScalarType<T>::value));
  T* const grad_low = grad_low_buffer.data_ptr<T>();
  const int64_t chunk = (rows + tasks - 1) / tasks;
  at::parallel_for(0, tasks, 1, [&](int64_t task_begin, int64_t task_end) NOSHARING_VECTORISED {
    for (int64_t task = task_begin; task < task_end; ++task) {
      T* const gl = grad_low + task * low_size;
      std::fill(gl, gl + low_size, T(0));
      for (int64_t row = task * chunk; row < std::min(rows, (task + 1) * chunk); ++row) {
        const T* v = w + row * depth;
        T* gv = grad_w + row * depth;
        const T vb = dots[3 * row], norm_v = std::sqrt(dots[3 * row + 1]),
                norm_b = std::sqrt(dots[3 * row + 2]);
        const T nv = std::max<T>(norm_v, T(kEpsilon)), nb = std::max<T>(norm_b, T(kEpsilon));
        const T cos = vb / (nv * nb);
        // Below the floor the normalisation is a constant scale: no projection term.
        const T self_v = norm_v > T(kEpsilon) ? cos / (nv * nv) : T(0);
        const T self_b = norm_b > T(kEpsilon) ? cos / (nb * nb) : T(0);
        // One reciprocal per row: a division per element made this loop the loss's cost.
        const T inv_vb = T(1) / (nv * nb);
        const BlurTaps& taps = geo.taps[static_cast<size_t>(row)];
        const T s[4] = {static_cast<T>(taps.weight[0]), static_cast<T>(taps.weight[1]),
                        static_cast<T>(taps.weight[2]), static_cast<T>(taps.weight[3])};
        const std::array<T, 4> factors = {scale * inv_vb, scale * self_v, scale * inv_vb,
                                          scale * self_b};
        const T *r0 = low + taps.low[0] * depth, *r1 = low + taps.low[1] * depth,
                *r2 = low + taps.low[2] * depth, *r3 = low + taps.low[3] * depth;
        T *d0 = gl + taps.low[0] * depth, *d1 = gl + taps.low[1] * depth,
          *d2 = gl + taps.low[2] * depth, *d3 = gl + taps.low[3] * depth;
        if (accumulate) {
          backward_row<true>(v, r0, r1, r2, r3, s, factors, depth, gv, d0, d1, d2, d3);
        } else {
          backward_row<false>(v, r0, r1, r2, r3, s, factors, depth, gv, d0, d1, d2, d3);
        }
      }
    }
  });
  for (int64_t task = 1; task < tasks; ++task) {
    const T* part = grad_low + task * low_size;
    for (int64_t i = 0; i < low_size; ++i) grad_low[i] += part[i];
  }
  const T* gl = grad_low;
  at::parallel_for(0, rows, kBlurredCosineGrain, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    const int64_t h = geo.down_y.out, wd = geo.down_x.out;
    for (int64_t row = begin; row < end; ++row) {
      const int64_t cell = geo.cells_of_rows[static_cast<size_t>(row)];
      const int64_t g = cell / (geo.height * geo.width), a = cell / geo.width % geo.height,
                    b = cell % geo.width;
      T* gv = grad_w + row * depth;
      for (const auto& [ky, dy] : geo.down_y.columns[static_cast<size_t>(a)]) {
        for (const auto& [kx, dx] : geo.down_x.columns[static_cast<size_t>(b)]) {
          const T tap = static_cast<T>(dy * dx);
          const T* src = gl + ((g * h + ky) * wd + kx) * depth;
          for (int64_t k = 0; k < depth; ++k) gv[k] += tap * src[k];
        }
      }
    }
  });
}

// The forward's results that the backward reads: the down-sampled grid L (with its zero
// padding rows) and each row's three dots.
struct BlurredCosineForward {
  torch::Tensor low, dots;
  double sum = 0;  // Σ_cells cos
};

BlurredCosineForward forward_state(const torch::Tensor& weight, const BlurredCosineGeometry& geo) {
  const int64_t depth = weight.size(2);
  BlurredCosineForward out{pooled_empty({geo.low_rows() + kPaddingRows, depth}, weight.options()),
                   pooled_empty({geo.cells(), 3}, weight.options())};
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "blurred_cosine_forward", [&] {
    downsample(weight.data_ptr<scalar_t>(), geo, depth, out.low.data_ptr<scalar_t>());
    out.sum = forward_sum(weight.data_ptr<scalar_t>(), out.low.data_ptr<scalar_t>(), geo, depth,
                          out.dots.data_ptr<scalar_t>());
  });
  return out;
}

// grad · ∂S/∂weight written, or added when `accumulate`, into grad_w.
void backward_state(const torch::Tensor& weight, const BlurredCosineForward& state,
                    const BlurredCosineGeometry& geo, double grad, bool accumulate,
                    const torch::Tensor& grad_w) {
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "blurred_cosine_backward", [&] {
    backward_rows(weight.data_ptr<scalar_t>(), state.low.data_ptr<scalar_t>(),
                  state.dots.data_ptr<scalar_t>(), geo, weight.size(2),
                  static_cast<scalar_t>(grad / static_cast<double>(geo.cells())), accumulate,
                  grad_w.data_ptr<scalar_t>());
  });
}

struct BlurredCosineFunction : public torch::autograd::Function<BlurredCosineFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& weight,
                               std::shared_ptr<const BlurredCosineGeometry> geometry) {
    const BlurredCosineForward state = forward_state(weight, *geometry);
    ctx->save_for_backward({weight, state.low, state.dots});
    const double cells = static_cast<double>(geometry->cells());
    ctx->saved_data["geometry"] =
        c10::IValue::make_capsule(c10::make_intrusive<GeometryHolder>(std::move(geometry)));
    return torch::full({}, state.sum / cells, weight.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "blurred_cosine: double backward (create_graph=true) is not supported; use "
                "topoloss_reference for higher-order gradients");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}};
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& weight = saved[0];
    const auto holder = c10::static_intrusive_pointer_cast<GeometryHolder>(
        ctx->saved_data["geometry"].toCapsule());
    torch::Tensor grad_w = pooled_empty(weight.sizes(), weight.options());
    backward_state(weight, {saved[1], saved[2]}, *holder->geometry, grad.item<double>(),
                   /*accumulate=*/false, grad_w);
    return {grad_w, {}};
  }

  // The geometry travels in the context as a capsule, kept alive until the backward.
  struct GeometryHolder : torch::CustomClassHolder {
    explicit GeometryHolder(std::shared_ptr<const BlurredCosineGeometry> g)
        : geometry(std::move(g)) {}
    std::shared_ptr<const BlurredCosineGeometry> geometry;
  };
};

}  // namespace

ResamplingTaps bilinear_taps(int64_t in, int64_t out) {
  namespace F = torch::nn::functional;
  // Column a of the identity, resampled: M[:, a] (a [1, in, in, 1] batch of one-hot images).
  const torch::Tensor eye = torch::eye(in, torch::kFloat64).view({1, in, in, 1});
  const torch::Tensor m = F::interpolate(eye, F::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{out, 1})
                                                  .mode(torch::kBilinear)
                                                  .align_corners(false))
                              .view({in, out})
                              .t()
                              .contiguous();  // [out, in]
  ResamplingTaps taps;
  taps.out = out;
  taps.in = in;
  taps.rows.resize(static_cast<size_t>(out));
  taps.columns.resize(static_cast<size_t>(in));
  const double* v = m.data_ptr<double>();
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      const double value = v[o * in + i];
      if (value == 0) continue;
      taps.rows[static_cast<size_t>(o)].emplace_back(i, value);
      taps.columns[static_cast<size_t>(i)].emplace_back(o, value);
    }
  }
  return taps;
}

BlurredCosineGeometry blurred_cosine_geometry(const Sheet& sheet, int64_t positions,
                                              int64_t channels, double factor) {
  TORCH_CHECK(sheet.num_units() == positions * channels, "blurred_cosine: the sheet has ",
              sheet.num_units(), " units, the layer ", channels, " channels × ", positions,
              " positions");
  TORCH_CHECK(factor >= 1, "blurred_cosine: factor ", factor, "; expected >= 1");
  const torch::Tensor grids = sheet.grids().contiguous();
  BlurredCosineGeometry geo;
  geo.grids = grids.size(0);
  geo.height = grids.size(1);
  geo.width = grids.size(2);
  const int64_t* unit = grids.data_ptr<int64_t>();
  geo.rows.resize(static_cast<size_t>(grids.numel()));
  geo.cells_of_rows.resize(static_cast<size_t>(grids.numel()));
  for (int64_t i = 0; i < grids.numel(); ++i) {
    const int64_t row = (unit[i] % positions) * channels + unit[i] / positions;
    geo.rows[static_cast<size_t>(i)] = row;
    geo.cells_of_rows[static_cast<size_t>(row)] = i;
  }
  const auto shrink = [factor](int64_t side) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::floor(side / factor)));
  };
  geo.down_y = bilinear_taps(geo.height, shrink(geo.height));
  geo.down_x = bilinear_taps(geo.width, shrink(geo.width));
  geo.up_y = bilinear_taps(geo.down_y.out, geo.height);
  geo.up_x = bilinear_taps(geo.down_x.out, geo.width);
  const int64_t h = geo.down_y.out, wd = geo.down_x.out;
  geo.taps.resize(static_cast<size_t>(grids.numel()));
  for (int64_t row = 0; row < grids.numel(); ++row) {
    const int64_t cell = geo.cells_of_rows[static_cast<size_t>(row)];
    const int64_t g = cell / (geo.height * geo.width), y = cell / geo.width % geo.height,
                  x = cell % geo.width;
    BlurTaps& taps = geo.taps[static_cast<size_t>(row)];
    size_t t = 0;
    for (const auto& [ky, uy] : geo.up_y.rows[static_cast<size_t>(y)]) {
      for (const auto& [kx, ux] : geo.up_x.rows[static_cast<size_t>(x)]) {
        TORCH_CHECK(t < taps.low.size(), "blurred_cosine: more than four bilinear taps");
        taps.low[t] = (g * h + ky) * wd + kx;
        taps.weight[t++] = uy * ux;
      }
    }
    for (int64_t pad = 0; t < taps.low.size(); ++t, ++pad) {
      taps.low[t] = geo.low_rows() + pad;
      taps.weight[t] = 0;
    }
  }
  return geo;
}

namespace {

void check_arguments(const torch::Tensor& weight, const BlurredCosineGeometry* geometry) {
  TORCH_CHECK(geometry != nullptr, "blurred_cosine: no geometry");
  TORCH_CHECK(weight.dim() == 3 && weight.device().is_cpu() &&
                  geometry->cells() == weight.size(0) * weight.size(1),
              "blurred_cosine: expected a CPU weight [P, C, D] with P·C = ", geometry->cells(),
              " units, got ", weight.sizes());
}

}  // namespace

torch::Tensor blurred_cosine(const torch::Tensor& weight,
                             std::shared_ptr<const BlurredCosineGeometry> geometry) {
  check_arguments(weight, geometry.get());
  return BlurredCosineFunction::apply(weight.contiguous(), std::move(geometry));
}

double blurred_cosine_add_gradients(const torch::Tensor& weight,
                                    const BlurredCosineGeometry& geometry, double scale,
                                    const torch::Tensor& grad_weight) {
  check_arguments(weight, &geometry);
  check_gradient_target("blurred_cosine", weight, grad_weight);
  torch::NoGradGuard no_grad;
  const torch::Tensor w = weight.detach().contiguous();
  const BlurredCosineForward state = forward_state(w, geometry);
  backward_state(w, state, geometry, scale, /*accumulate=*/true, grad_weight);
  return state.sum / static_cast<double>(geometry.cells());
}

}  // namespace nosharing
