#include "nosharing/topography/wiring.h"

#include <torch/torch.h>

namespace nosharing {

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

torch::Tensor WiringLossImpl::forward(const TopographicLayer& layer) {
  const torch::Tensor& weight = layer.weight;  // [P, C, D]
  TORCH_CHECK(weight.dim() == 3 && weight.size(2) % (layer.kernel * layer.kernel) == 0,
              "wiring: layer ", layer.name, " weight ", weight.sizes(),
              " is not [P, C, C_in·k·k] for k = ", layer.kernel);
  const torch::Tensor factors =
      wiring_length_factors(weight.size(2) / (layer.kernel * layer.kernel), layer.kernel,
                            layer.stride)
          .to(weight.scalar_type());
  // Σ_{p,c} |w_pcj| first (one pass over the weights), then the length factor of each j.
  return (weight.abs().sum(std::vector<int64_t>{0, 1}) * factors).sum() / static_cast<double>(weight.size(0));
}

}  // namespace nosharing
