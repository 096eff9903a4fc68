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
