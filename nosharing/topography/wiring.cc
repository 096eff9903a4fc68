#include "nosharing/topography/wiring.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>

#include "nosharing/core/large_buffer_pool.h"
#include "nosharing/core/vectorised.h"
#include "nosharing/topography/cpu/gradient_target.h"

namespace nosharing {
namespace {

constexpr int64_t kWiringGrain = 256;  // weight rows per parallel task

// The cost Σ_{p,c,j} f_j |w_pcj| / P (returned), in one read of the weights; with a defined
// grad_weight the same pass writes grad · ∂cost/∂w = grad · f_j sign(w_pcj) / P into it, or
// adds it when `accumulate`.
double wiring_pass(const torch::Tensor& weight, const torch::Tensor& factors, double grad,
                   bool accumulate, const torch::Tensor& grad_weight) {
  const int64_t rows = weight.size(0) * weight.size(1), width = weight.size(2);
  double total = 0;
  AT_DISPATCH_FLOATING_TYPES(weight.scalar_type(), "wiring_cost", [&] {
    const auto scale = static_cast<scalar_t>(grad / static_cast<double>(weight.size(0)));
    const scalar_t* w = weight.data_ptr<scalar_t>();
    const scalar_t* f = factors.data_ptr<scalar_t>();
    scalar_t* g = grad_weight.defined() ? grad_weight.data_ptr<scalar_t>() : nullptr;
    total = at::parallel_reduce(
        0, rows, kWiringGrain, 0.0,
        [&](int64_t begin, int64_t end, double sum) NOSHARING_VECTORISED {
          for (int64_t r = begin; r < end; ++r) {
            const scalar_t* row = w + r * width;
            scalar_t row_sum = 0;
            if (g == nullptr) {
              for (int64_t j = 0; j < width; ++j) row_sum += f[j] * std::abs(row[j]);
            } else {
              // Sum and gradient in the same loop: as two loops over the row, ~19 % slower.
              scalar_t* out = g + r * width;
              for (int64_t j = 0; j < width; ++j) {
                row_sum += f[j] * std::abs(row[j]);
                // d|w|/dw = sign(w), 0 at 0 (as autograd's abs).
                const scalar_t step =
                    scale * f[j] * static_cast<scalar_t>((row[j] > 0) - (row[j] < 0));
                out[j] = accumulate ? out[j] + step : step;
              }
            }
            sum += static_cast<double>(row_sum);
          }
          return sum;
        },
        std::plus<double>());
  });
  return total / static_cast<double>(weight.size(0));
}

// The autograd chain of wiring_cost_reference (abs, a sum over rows, a product with the
// factors; backward an expand, sgn and a product) writes three weight-sized temporaries per
// step: on alltnn-small (10 MB of unshared weights) that cost more than the rest of the
// loss. Here: one read of the weights forward, one write of the gradient backward, the
// gradient from the recycling pool.
struct WiringCostFunction : public torch::autograd::Function<WiringCostFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& weight,
                               const torch::Tensor& factors) {
    ctx->save_for_backward({weight, factors});
    return torch::full({}, wiring_pass(weight, factors, 0, false, {}), weight.options());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    TORCH_CHECK(!torch::GradMode::is_enabled(),
                "wiring_cost: double backward (create_graph=true) is not supported; use "
                "wiring_cost_reference");
    const torch::Tensor& grad = grad_outputs[0];
    if (!grad.defined()) return {{}, {}};
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &weight = saved[0], &factors = saved[1];
    torch::Tensor grad_weight = pooled_empty(weight.sizes(), weight.options());
    wiring_pass(weight, factors, grad.item<double>(), /*accumulate=*/false, grad_weight);
    return {grad_weight, {}};
  }
};

void check_wiring_arguments(const torch::Tensor& weight, const torch::Tensor& factors) {
  TORCH_CHECK(weight.dim() == 3 && factors.dim() == 1 && factors.size(0) == weight.size(2),
              "wiring_cost: expected weight [P, C, D] and factors [D], got ", weight.sizes(),
              " and ", factors.sizes());
}

}  // namespace

torch::Tensor wiring_cost(const torch::Tensor& weight, const torch::Tensor& factors) {
  check_wiring_arguments(weight, factors);
  TORCH_CHECK(weight.device().is_cpu(), "wiring_cost: expected a CPU weight, got ",
              weight.device());
  return WiringCostFunction::apply(weight.contiguous(),
                                   factors.to(weight.scalar_type()).contiguous());
}

double wiring_cost_add_gradients(const torch::Tensor& weight, const torch::Tensor& factors,
                                 double scale, const torch::Tensor& grad_weight) {
  check_wiring_arguments(weight, factors);
  TORCH_CHECK(weight.device().is_cpu(), "wiring_cost: expected a CPU weight, got ",
              weight.device());
  check_gradient_target("wiring_cost", weight, grad_weight);
  torch::NoGradGuard no_grad;
  const torch::Tensor w = weight.detach().contiguous();
  const torch::Tensor f = factors.to(weight.scalar_type()).contiguous();
  return wiring_pass(w, f, scale, /*accumulate=*/true, grad_weight);
}

torch::Tensor wiring_cost_reference(const torch::Tensor& weight, const torch::Tensor& factors) {
  check_wiring_arguments(weight, factors);
  // Σ_{p,c} |w_pcj| first (one pass over the weights), then the length factor of each j.
  return (weight.abs().sum(std::vector<int64_t>{0, 1}) * factors.to(weight.scalar_type()))
             .sum() /
         static_cast<double>(weight.size(0));
}

torch::Tensor wiring_length_factors(int64_t in_channels, int64_t kernel, int64_t stride) {
  TORCH_CHECK(in_channels >= 1 && kernel >= 1 && stride >= 1, "wiring: in_channels ",
              in_channels, ", kernel ", kernel, ", stride ", stride, "; expected all >= 1");
  const torch::Tensor offsets =
      (torch::arange(kernel, torch::kFloat64) - (kernel - 1) / 2.0) / static_cast<double>(stride);
  const torch::Tensor d2 = offsets.pow(2).unsqueeze(1) + offsets.pow(2).unsqueeze(0);  // [k, k]
  return (1 + d2).sqrt().reshape({1, -1}).expand({in_channels, kernel * kernel}).reshape({-1});
}

torch::Tensor attention_wiring_lengths(int64_t height, int64_t width) {
  TORCH_CHECK(height >= 1 && width >= 1, "wiring: grid ", height, "×", width,
              "; expected both >= 1");
  const torch::Tensor positions = position_coordinates(height, width);
  return (1 + pairwise_distances(positions, positions).pow(2)).sqrt();
}

torch::Tensor attention_wiring_cost(const torch::Tensor& attention, const torch::Tensor& lengths) {
  TORCH_CHECK(attention.dim() == 3 && attention.size(1) == attention.size(2) &&
                  lengths.dim() == 2 && lengths.size(0) == attention.size(1) &&
                  lengths.size(1) == attention.size(2),
              "wiring: attention [B, L, L] ", attention.sizes(), " and lengths [L, L] ",
              lengths.sizes(), " do not fit");
  const torch::Tensor per_map =
      (attention.abs() * lengths.to(attention.scalar_type())).sum(std::vector<int64_t>{1, 2});
  return per_map.mean() / static_cast<double>(attention.size(1));
}

namespace {

// The layer's length factors, after checking that its weight is [P, C, C_in·k·k].
torch::Tensor layer_length_factors(const TopographicLayer& layer) {
  const torch::Tensor& weight = layer.weight;  // [P, C, D]
  TORCH_CHECK(weight.dim() == 3 && weight.size(2) % (layer.kernel * layer.kernel) == 0,
              "wiring: layer ", layer.name, " weight ", weight.sizes(),
              " is not [P, C, C_in·k·k] for k = ", layer.kernel);
  return wiring_length_factors(weight.size(2) / (layer.kernel * layer.kernel), layer.kernel,
                               layer.stride);
}

}  // namespace

torch::Tensor WiringLossImpl::forward(const TopographicLayer& layer) {
  return wiring_cost(layer.weight, layer_length_factors(layer));
}

double WiringLossImpl::add_gradients(const TopographicLayer& layer, double scale,
                                     const torch::Tensor& grad_weight,
                                     const torch::Tensor& /*grad_bias: biases are free*/) {
  return wiring_cost_add_gradients(layer.weight, layer_length_factors(layer), scale,
                                   grad_weight);
}

}  // namespace nosharing
