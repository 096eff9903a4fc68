#include "nosharing/topography/blurred_cosine.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/nn/functional/upsampling.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/topography/row_math.h"

namespace nosharing {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using row_math::dot;
using row_math::kEpsilon;

constexpr int64_t kGrain = 16;  // cells per parallel task

// The down-sampled grids L = D_y D_x G, [G, h, w, D].
template <typename T>
void downsample(const T* w, const BlurredCosineGeometry& geo, int64_t depth, T* low) {
  const int64_t h = geo.down_y.out, wd = geo.down_x.out;
  at::parallel_for(0, geo.grids * h * wd, 1, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t cell = begin; cell < end; ++cell) {
      const int64_t g = cell / (h * wd), ky = cell / wd % h, kx = cell % wd;
      T* out = low + cell * depth;
      std::fill(out, out + depth, T(0));
      for (const auto& [a, wy] : geo.down_y.rows[static_cast<size_t>(ky)]) {
        for (const auto& [b, wx] : geo.down_x.rows[static_cast<size_t>(kx)]) {
          const T scale = static_cast<T>(wy * wx);
          const T* src =
              w + geo.rows[static_cast<size_t>((g * geo.height + a) * geo.width + b)] * depth;
          for (int64_t k = 0; k < depth; ++k) out[k] += scale * src[k];
        }
      }
    }
  });
}

// Ĝ at cell (g, y, x) from the down-sampled grids, into `out` [D].
template <typename T>
NOSHARING_INLINE void blurred_at(const T* low, const BlurredCosineGeometry& geo, int64_t depth,
                                 int64_t g, int64_t y, int64_t x, T* out) {
  const int64_t h = geo.down_y.out, wd = geo.down_x.out;
  std::fill(out, out + depth, T(0));
  for (const auto& [ky, uy] : geo.up_y.rows[static_cast<size_t>(y)]) {
    for (const auto& [kx, ux] : geo.up_x.rows[static_cast<size_t>(x)]) {
      const T scale = static_cast<T>(uy * ux);
      const T* src = low + ((g * h + ky) * wd + kx) * depth;
      for (int64_t k = 0; k < depth; ++k) out[k] += scale * src[k];
    }
  }
}

template <typename T>
double forward_sum(const T* w, const T* low, const BlurredCosineGeometry& geo, int64_t depth) {
  const int64_t cells = geo.grids * geo.height * geo.width;
  return at::parallel_reduce(
      0, cells, kGrain, 0.0,
      [&](int64_t begin, int64_t end, double sum) NOSHARING_VECTORISED {
        std::vector<T> blur(static_cast<size_t>(depth));
        for (int64_t cell = begin; cell < end; ++cell) {
          const int64_t g = cell / (geo.height * geo.width), y = cell / geo.width % geo.height,
                        x = cell % geo.width;
          blurred_at(low, geo, depth, g, y, x, blur.data());
          const T* v = w + geo.rows[static_cast<size_t>(cell)] * depth;
          const T nv = std::max<T>(std::sqrt(dot(v, v, depth)), T(kEpsilon));
          const T nb = std::max<T>(std::sqrt(dot(blur.data(), blur.data(), depth)), T(kEpsilon));
          sum += static_cast<double>(dot(v, blur.data(), depth) / (nv * nb));
        }
        return sum;
      },
      std::plus<double>());
}

// ∂S/∂G: per cell, the direct term (b̂ − cos·v̂)/‖v‖ written into the cell's row, and the
// blur term (v̂ − cos·b̂)/‖b‖ pulled back through U into per-task ∂S/∂L buffers, then through
// D (by columns: every cell gathers from the down-sampled cells that read it).
template <typename T>
void backward_rows(const T* w, const T* low, const BlurredCosineGeometry& geo, int64_t depth,
                   T scale, T* grad_w) {
  const int64_t cells = geo.grids * geo.height * geo.width;
  const int64_t low_size = geo.grids * geo.down_y.out * geo.down_x.out * depth;
  const int64_t tasks = std::max<int64_t>(1, at::get_num_threads());
  std::vector<std::vector<T>> grad_low(static_cast<size_t>(tasks));
  const int64_t chunk = (cells + tasks - 1) / tasks;
  at::parallel_for(0, tasks, 1, [&](int64_t task_begin, int64_t task_end) NOSHARING_VECTORISED {
    std::vector<T> blur(static_cast<size_t>(depth)), pull(static_cast<size_t>(depth));
    for (int64_t task = task_begin; task < task_end; ++task) {
      std::vector<T>& gl = grad_low[static_cast<size_t>(task)];
      gl.assign(static_cast<size_t>(low_size), T(0));
      for (int64_t cell = task * chunk; cell < std::min(cells, (task + 1) * chunk); ++cell) {
        const int64_t g = cell / (geo.height * geo.width), y = cell / geo.width % geo.height,
                      x = cell % geo.width;
        blurred_at(low, geo, depth, g, y, x, blur.data());
        const T* v = w + geo.rows[static_cast<size_t>(cell)] * depth;
        T* gv = grad_w + geo.rows[static_cast<size_t>(cell)] * depth;
        const T norm_v = std::sqrt(dot(v, v, depth));
        const T norm_b = std::sqrt(dot(blur.data(), blur.data(), depth));
        const T nv = std::max<T>(norm_v, T(kEpsilon)), nb = std::max<T>(norm_b, T(kEpsilon));
        const T cos = dot(v, blur.data(), depth) / (nv * nb);
        // Below the floor the normalisation is a constant scale: no projection term.
        const T self_v = norm_v > T(kEpsilon) ? cos / (nv * nv) : T(0);
        const T self_b = norm_b > T(kEpsilon) ? cos / (nb * nb) : T(0);
        // One reciprocal per cell: a division per element made this loop the loss's cost.
        const T inv_vb = T(1) / (nv * nb);
        for (int64_t k = 0; k < depth; ++k) {
          gv[k] = scale * (blur[static_cast<size_t>(k)] * inv_vb - self_v * v[k]);
          pull[static_cast<size_t>(k)] = v[k] * inv_vb - self_b * blur[static_cast<size_t>(k)];
        }
        const int64_t h = geo.down_y.out, wd = geo.down_x.out;
        for (const auto& [ky, uy] : geo.up_y.rows[static_cast<size_t>(y)]) {
          for (const auto& [kx, ux] : geo.up_x.rows[static_cast<size_t>(x)]) {
            const T tap = scale * static_cast<T>(uy * ux);
            T* dst = gl.data() + ((g * h + ky) * wd + kx) * depth;
            for (int64_t k = 0; k < depth; ++k) dst[k] += tap * pull[static_cast<size_t>(k)];
          }
        }
      }
    }
  });
  for (int64_t task = 1; task < tasks; ++task) {
    T* total = grad_low[0].data();
    const T* part = grad_low[static_cast<size_t>(task)].data();
    for (int64_t i = 0; i < low_size; ++i) total[i] += part[i];
  }
  const T* gl = grad_low[0].data();
  at::parallel_for(0, cells, kGrain, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    const int64_t h = geo.down_y.out, wd = geo.down_x.out;
    for (int64_t cell = begin; cell < end; ++cell) {
      const int64_t g = cell / (geo.height * geo.width), a = cell / geo.width % geo.height,
                    b = cell % geo.width;
      T* gv = grad_w + geo.rows[static_cast<size_t>(cell)] * depth;
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

struct BlurredCosineFunction : public torch::autograd::Function<BlurredCosineFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& weight,
                               std::shared_ptr<const BlurredCosineGeometry> geometry) {
    const int64_t depth = weight.size(2);
    const BlurredCosineGeometry& geo = *geometry;
    torch::Tensor low =
        torch::empty({geo.grids, geo.down_y.out, geo.down_x.out, depth}, weight.options());
    double sum = 0;
    AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "blurred_cosine_forward", [&] {
      downsample(weight.data_ptr<scalar_t>(), geo, depth, low.data_ptr<scalar_t>());
      sum = forward_sum(weight.data_ptr<scalar_t>(), low.data_ptr<scalar_t>(), geo, depth);
    });
    ctx->save_for_backward({weight, low});
    ctx->saved_data["geometry"] =
        c10::IValue::make_capsule(c10::make_intrusive<GeometryHolder>(std::move(geometry)));
    const double cells = static_cast<double>(geo.grids * geo.height * geo.width);
    return torch::full({}, sum / cells, weight.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "blurred_cosine: double backward (create_graph=true) is not supported; use "
                "topoloss_reference for higher-order gradients");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}};
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &weight = saved[0], &low = saved[1];
    const auto holder = c10::static_intrusive_pointer_cast<GeometryHolder>(
        ctx->saved_data["geometry"].toCapsule());
    const BlurredCosineGeometry& geo = *holder->geometry;
    torch::Tensor grad_w = pooled_empty(weight.sizes(), weight.options());
    const double cells = static_cast<double>(geo.grids * geo.height * geo.width);
    AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "blurred_cosine_backward", [&] {
      backward_rows(weight.data_ptr<scalar_t>(), low.data_ptr<scalar_t>(), geo, weight.size(2),
                    static_cast<scalar_t>(grad.item<double>() / cells),
                    grad_w.data_ptr<scalar_t>());
    });
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
  for (int64_t i = 0; i < grids.numel(); ++i) {
    geo.rows[static_cast<size_t>(i)] = (unit[i] % positions) * channels + unit[i] / positions;
  }
  const auto shrink = [factor](int64_t side) {
    return std::max<int64_t>(1, static_cast<int64_t>(std::floor(side / factor)));
  };
  geo.down_y = bilinear_taps(geo.height, shrink(geo.height));
  geo.down_x = bilinear_taps(geo.width, shrink(geo.width));
  geo.up_y = bilinear_taps(geo.down_y.out, geo.height);
  geo.up_x = bilinear_taps(geo.down_x.out, geo.width);
  return geo;
}

torch::Tensor blurred_cosine(const torch::Tensor& weight, const BlurredCosineGeometry& geometry) {
  TORCH_CHECK(weight.dim() == 3 && weight.device().is_cpu() &&
                  static_cast<int64_t>(geometry.rows.size()) == weight.size(0) * weight.size(1),
              "blurred_cosine: expected a CPU weight [P, C, D] with P·C = ",
              geometry.rows.size(), " units, got ", weight.sizes());
  return BlurredCosineFunction::apply(
      weight.contiguous(), std::make_shared<const BlurredCosineGeometry>(geometry));
}

}  // namespace nosharing
