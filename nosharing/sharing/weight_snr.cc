#include "nosharing/sharing/weight_snr.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nosharing/core/error.h"
#include "nosharing/models/lcnet.h"

namespace nosharing {
namespace {

double clamp_snr(double value) {
  // NaN cannot arise (0/0 is mapped to +inf below), +inf and huge values become the cap.
  return std::min(value, kMaxWeightSnr);
}

}  // namespace

WeightSnr weight_snr(const torch::Tensor& weight) {
  if (!weight.defined() || weight.dim() < 1 || weight.numel() == 0) {
    throw_runtime("weight_snr: expected a non-empty weight [P, …]");
  }
  const int64_t positions = weight.size(0);
  if (positions < 2) return {kMaxWeightSnr, kMaxWeightSnr};
  const at::Tensor w = weight.detach().to(at::kDouble).reshape({positions, -1});
  const at::Tensor mean = w.mean(0);                     // [J]
  const at::Tensor var = w.var(0, /*unbiased=*/true);   // [J]
  const at::Tensor inf = at::full_like(var, std::numeric_limits<double>::infinity());
  const at::Tensor shared = var <= 0;
  const at::Tensor squared = at::where(shared, inf, mean.square() / var);
  const at::Tensor abs = at::where(shared, inf, mean.abs() / var.sqrt());
  return {clamp_snr(squared.mean().item<double>()), clamp_snr(abs.mean().item<double>())};
}

std::vector<std::pair<std::string, WeightSnr>> layer_weight_snrs(const ModelImpl& model) {
  std::vector<std::pair<std::string, WeightSnr>> out;
  const auto* net = dynamic_cast<const LcNetImpl*>(&model);
  if (net == nullptr) return out;
  for (const auto& [name, layer] : net->unshared_layers()) {
    out.emplace_back(name, weight_snr(layer->weight));
  }
  for (const auto& [name, conv] : net->conv_layers()) {
    out.emplace_back(name, WeightSnr{kMaxWeightSnr, kMaxWeightSnr});
  }
  return out;
}

}  // namespace nosharing
