#include "nosharing/topography/cpu/kernel_smoothness_function.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/topography/cpu/gradient_target.h"
#include "nosharing/topography/cpu/row_math.h"

namespace nosharing {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using row_math::dot;
using row_math::kEpsilon;

constexpr int64_t kNeighbourCosineGrain = 64;  // rows per parallel task

// The geometry shared by forward and backward.
struct Rows {
  int64_t count, width;  // R rows of D weights
  const int64_t* offsets;
  const int64_t* neighbours;
  const int64_t* mirrors;
  const double* weights;
};

// ‖v_r‖ for every row.
template <typename T>
void row_norms(const T* w, const T* b, const Rows& rows, T* norms) {
  at::parallel_for(0, rows.count, kNeighbourCosineGrain, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t r = begin; r < end; ++r) {
      const T* wr = w + r * rows.width;
      T squared = dot(wr, wr, rows.width);
      if (b != nullptr) squared += b[r] * b[r];
      norms[r] = std::sqrt(squared);
    }
  });
}

// Σ_pairs a_uv cos(v_u, v_v), each pair's dot formed once (at its lower row) and its cosine
// kept at both of its CSR entries in `cosines` [2·pairs], for the backward.
template <typename T>
double forward_sum(const T* w, const T* b, const T* norms, const Rows& rows, T* cosines) {
  return at::parallel_reduce(
      0, rows.count, kNeighbourCosineGrain, 0.0,
      [&](int64_t begin, int64_t end, double sum) NOSHARING_VECTORISED {
        for (int64_t r = begin; r < end; ++r) {
          const T inv_r = T(1) / std::max<T>(norms[r], T(kEpsilon));
          for (int64_t j = rows.offsets[r]; j < rows.offsets[r + 1]; ++j) {
            const int64_t q = rows.neighbours[j];
            if (q <= r) continue;  // each pair once; entry j's mirror is written here too
            T d = dot(w + r * rows.width, w + q * rows.width, rows.width);
            if (b != nullptr) d += b[r] * b[q];
            const T cosine = d * inv_r / std::max<T>(norms[q], T(kEpsilon));
            cosines[j] = cosine;
            cosines[rows.mirrors[j]] = cosine;
            sum += rows.weights[j] * static_cast<double>(cosine);
          }
        }
        return sum;
      },
      std::plus<double>());
}

// out[k] = Σ_i s[i]·in[i][k] over five rows (or out[k] += it), in one pass: the restrict
// parameters let GCC vectorise it (restrict on local pointers did not).
template <typename T>
NOSHARING_INLINE void combine_five(T* __restrict out, const T* __restrict in0,
                                   const T* __restrict in1, const T* __restrict in2,
                                   const T* __restrict in3, const T* __restrict in4,
                                   const T* s, int64_t n, bool accumulate) {
  const T s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3], s4 = s[4];
  if (accumulate) {
    for (int64_t k = 0; k < n; ++k) {
      out[k] += s0 * in0[k] + s1 * in1[k] + s2 * in2[k] + s3 * in3[k] + s4 * in4[k];
    }
  } else {
    for (int64_t k = 0; k < n; ++k) {
      out[k] = s0 * in0[k] + s1 * in1[k] + s2 * in2[k] + s3 * in3[k] + s4 * in4[k];
    }
  }
}

// ∂S/∂v_r = Σ_q a_rq (v̂_q − cos_rq · v̂_r) / ‖v_r‖, where the norm is above ε; below it the
// normalisation is the constant scale 1/ε and the second term vanishes. With the forward's
// cosines, row r's gradient is one pass over its own and its neighbours' weights:
//   g_r = grad · (Σ_q s_rq w_q − c_r w_r),  s_rq = a_rq / (‖v_r‖ ‖v_q‖),
//   c_r = Σ_q a_rq cos_rq / ‖v_r‖²,
// four neighbours at a time (a sheet's grids give at most four; missing ones scale 0).
// Added into grad_w / grad_b when `accumulate`.
template <typename T>
void backward_rows(const T* w, const T* b, const T* norms, const T* cosines, const Rows& rows,
                   T grad, bool accumulate, T* grad_w, T* grad_b) {
  at::parallel_for(0, rows.count, kNeighbourCosineGrain, [&](int64_t begin, int64_t end) NOSHARING_VECTORISED {
    for (int64_t r = begin; r < end; ++r) {
      const T* wr = w + r * rows.width;
      const T inv_r = T(1) / std::max<T>(norms[r], T(kEpsilon));
      T cos_sum = 0, bias_sum = 0;
      for (int64_t j = rows.offsets[r]; j < rows.offsets[r + 1]; ++j) {
        const T a = static_cast<T>(rows.weights[j]);
        cos_sum += a * cosines[j];
        if (b != nullptr) {
          bias_sum += a * inv_r / std::max<T>(norms[rows.neighbours[j]], T(kEpsilon)) *
                      b[rows.neighbours[j]];
        }
      }
      const T self = norms[r] > T(kEpsilon) ? cos_sum * inv_r * inv_r : T(0);
      bool first = true;
      for (int64_t j0 = rows.offsets[r]; first || j0 < rows.offsets[r + 1]; j0 += 4) {
        T scales[5] = {first ? -grad * self : T(0), 0, 0, 0, 0};
        const T* in[5] = {wr, wr, wr, wr, wr};
        for (int64_t i = 0; i < 4 && j0 + i < rows.offsets[r + 1]; ++i) {
          const int64_t q = rows.neighbours[j0 + i];
          scales[i + 1] = grad * static_cast<T>(rows.weights[j0 + i]) * inv_r /
                          std::max<T>(norms[q], T(kEpsilon));
          in[i + 1] = w + q * rows.width;
        }
        combine_five(grad_w + r * rows.width, in[0], in[1], in[2], in[3], in[4], scales,
                     rows.width, accumulate || !first);
        first = false;
      }
      if (grad_b != nullptr) {
        const T g = grad * (bias_sum - self * b[r]);
        grad_b[r] = accumulate ? grad_b[r] + g : g;
      }
    }
  });
}

Rows rows_of(const torch::Tensor& weight, const torch::Tensor& offsets,
             const torch::Tensor& neighbours, const torch::Tensor& mirrors,
             const torch::Tensor& weights) {
  return {weight.size(0) * weight.size(1), weight.size(2), offsets.data_ptr<int64_t>(),
          neighbours.data_ptr<int64_t>(), mirrors.data_ptr<int64_t>(),
          weights.data_ptr<double>()};
}

// The forward's results that the backward reads: each row's norm and each CSR entry's cosine.
struct NeighbourCosineForward {
  torch::Tensor norms, cosines;
  double sum = 0;  // S
};

NeighbourCosineForward forward_state(const torch::Tensor& weight, const torch::Tensor& bias,
                           const Rows& rows, int64_t entries) {
  NeighbourCosineForward out{torch::empty({rows.count}, weight.options()),
                   torch::empty({entries}, weight.options())};
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "neighbour_cosine_forward", [&] {
    const scalar_t* b = bias.defined() ? bias.data_ptr<scalar_t>() : nullptr;
    row_norms(weight.data_ptr<scalar_t>(), b, rows, out.norms.data_ptr<scalar_t>());
    out.sum = forward_sum(weight.data_ptr<scalar_t>(), b, out.norms.data_ptr<scalar_t>(), rows,
                          out.cosines.data_ptr<scalar_t>());
  });
  return out;
}

// grad · ∂S/∂weight (and ∂S/∂bias) written, or added when `accumulate`, into grad_w (grad_b).
void backward_state(const torch::Tensor& weight, const torch::Tensor& bias,
                    const NeighbourCosineForward& state, const Rows& rows, double grad, bool accumulate,
                    const torch::Tensor& grad_w, const torch::Tensor& grad_b) {
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "neighbour_cosine_backward", [&] {
    backward_rows(weight.data_ptr<scalar_t>(),
                  bias.defined() ? bias.data_ptr<scalar_t>() : nullptr,
                  state.norms.data_ptr<scalar_t>(), state.cosines.data_ptr<scalar_t>(), rows,
                  static_cast<scalar_t>(grad), accumulate, grad_w.data_ptr<scalar_t>(),
                  grad_b.defined() ? grad_b.data_ptr<scalar_t>() : nullptr);
  });
}

struct NeighbourCosineFunction : public torch::autograd::Function<NeighbourCosineFunction> {
  // An absent bias arrives as an empty 1-D tensor (custom functions take no undefined inputs).
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& offsets,
                               const torch::Tensor& neighbours, const torch::Tensor& mirrors,
                               const torch::Tensor& weights) {
    const bool has_bias = bias.dim() == 2;
    const Rows rows = rows_of(weight, offsets, neighbours, mirrors, weights);
    const NeighbourCosineForward state =
        forward_state(weight, has_bias ? bias : torch::Tensor(), rows, neighbours.numel());
    ctx->save_for_backward(
        {weight, bias, state.norms, state.cosines, offsets, neighbours, mirrors, weights});
    ctx->saved_data["has_bias"] = has_bias;
    return torch::full({}, state.sum, weight.options());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "neighbour_cosine: double backward (create_graph=true) is not supported; use "
                "mean_neighbour_cosine_reference for higher-order gradients");
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& weight = saved[0];
    const bool has_bias = ctx->saved_data["has_bias"].toBool();
    const torch::Tensor bias = has_bias ? saved[1] : torch::Tensor();
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}, {}, {}, {}, {}};
    const Rows rows = rows_of(weight, saved[4], saved[5], saved[6], saved[7]);
    torch::Tensor grad_w = pooled_empty(weight.sizes(), weight.options());
    torch::Tensor grad_b = has_bias ? torch::empty_like(bias) : torch::Tensor();
    backward_state(weight, bias, {saved[2], saved[3]}, rows, grad.item<double>(),
                   /*accumulate=*/false, grad_w, grad_b);
    return {grad_w, grad_b, {}, {}, {}, {}};
  }
};

void check_arguments(const torch::Tensor& weight, const torch::Tensor& bias,
                     const NeighbourPairs& pairs) {
  TORCH_CHECK(weight.dim() == 3 && weight.device().is_cpu(),
              "neighbour_cosine: expected a CPU weight [P, C, D], got ", weight.sizes());
  TORCH_CHECK(pairs.offsets.numel() == weight.size(0) * weight.size(1) + 1,
              "neighbour_cosine: pairs for ", pairs.offsets.numel() - 1, " rows, weight ",
              weight.sizes());
  if (bias.defined()) {
    TORCH_CHECK(bias.sizes() == weight.sizes().slice(0, 2) &&
                    bias.scalar_type() == weight.scalar_type(),
                "neighbour_cosine: expected bias [", weight.size(0), ", ", weight.size(1), "] of ",
                weight.scalar_type(), ", got ", bias.sizes(), " of ", bias.scalar_type());
  }
}

}  // namespace

NeighbourPairs neighbour_pairs(const Sheet& sheet, int64_t positions, int64_t channels) {
  TORCH_CHECK(sheet.num_units() == positions * channels, "neighbour_pairs: the sheet has ",
              sheet.num_units(), " units, the layer ", channels, " channels × ", positions,
              " positions");
  const torch::Tensor grids = sheet.grids().contiguous();  // [G, Hg, Wg] of sheet units
  const int64_t count = grids.size(0), height = grids.size(1), width = grids.size(2);
  const int64_t* unit = grids.data_ptr<int64_t>();
  const auto row = [&](int64_t u) { return (u % positions) * channels + u / positions; };
  const int64_t down = count * (height - 1) * width, right = count * height * (width - 1);
  const int64_t directions = (height > 1 ? 1 : 0) + (width > 1 ? 1 : 0);
  NeighbourPairs out;
  out.pairs = down + right;
  // Per row its (neighbour, a_uv, pair) entries; a pair's two entries are each other's mirror.
  struct Entry {
    int64_t neighbour;
    double weight;
    int64_t pair;
  };
  std::vector<std::vector<Entry>> adjacency(static_cast<size_t>(positions * channels));
  int64_t next_pair = 0;
  const auto add = [&](int64_t u, int64_t v, double a) {
    adjacency[static_cast<size_t>(row(u))].push_back({row(v), a, next_pair});
    adjacency[static_cast<size_t>(row(v))].push_back({row(u), a, next_pair});
    ++next_pair;
  };
  for (int64_t g = 0; g < count; ++g) {
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const int64_t at = (g * height + y) * width + x;
        if (y + 1 < height) add(unit[at], unit[at + width], 1.0 / double(directions * down));
        if (x + 1 < width) add(unit[at], unit[at + 1], 1.0 / double(directions * right));
      }
    }
  }
  std::vector<int64_t> offsets = {0}, neighbours, mirrors(static_cast<size_t>(2 * next_pair));
  std::vector<double> weights;
  std::vector<int64_t> first_entry(static_cast<size_t>(next_pair), -1);
  for (const auto& list : adjacency) {
    for (const Entry& entry : list) {
      const auto j = static_cast<int64_t>(neighbours.size());
      int64_t& first = first_entry[static_cast<size_t>(entry.pair)];
      if (first < 0) {
        first = j;
      } else {
        mirrors[static_cast<size_t>(j)] = first;
        mirrors[static_cast<size_t>(first)] = j;
      }
      neighbours.push_back(entry.neighbour);
      weights.push_back(entry.weight);
    }
    offsets.push_back(static_cast<int64_t>(neighbours.size()));
  }
  out.offsets = torch::tensor(offsets, torch::kInt64);
  out.neighbours = torch::tensor(neighbours, torch::kInt64);
  out.mirrors = torch::tensor(mirrors, torch::kInt64);
  out.weights = torch::tensor(weights, torch::kFloat64);
  return out;
}

torch::Tensor neighbour_cosine(const torch::Tensor& weight, const torch::Tensor& bias,
                               const NeighbourPairs& pairs) {
  check_arguments(weight, bias, pairs);
  if (pairs.pairs == 0) return torch::ones({}, weight.options());
  const torch::Tensor b =
      bias.defined() ? bias.contiguous() : torch::empty({0}, weight.options());
  return NeighbourCosineFunction::apply(weight.contiguous(), b, pairs.offsets, pairs.neighbours,
                                        pairs.mirrors, pairs.weights);
}

double neighbour_cosine_add_gradients(const torch::Tensor& weight, const torch::Tensor& bias,
                                      const NeighbourPairs& pairs, double scale,
                                      const torch::Tensor& grad_weight,
                                      const torch::Tensor& grad_bias) {
  check_arguments(weight, bias, pairs);
  check_gradient_target("neighbour_cosine", weight, grad_weight);
  if (bias.defined()) check_gradient_target("neighbour_cosine", bias, grad_bias);
  if (pairs.pairs == 0) return 1.0;
  torch::NoGradGuard no_grad;
  const torch::Tensor w = weight.detach().contiguous();
  const torch::Tensor b = bias.defined() ? bias.detach().contiguous() : torch::Tensor();
  const Rows rows = rows_of(w, pairs.offsets, pairs.neighbours, pairs.mirrors, pairs.weights);
  const NeighbourCosineForward state = forward_state(w, b, rows, pairs.neighbours.numel());
  backward_state(w, b, state, rows, scale, /*accumulate=*/true, grad_weight,
                 b.defined() ? grad_bias : torch::Tensor());
  return state.sum;
}

}  // namespace nosharing
