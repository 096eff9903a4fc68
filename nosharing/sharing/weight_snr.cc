#include "nosharing/sharing/weight_snr.h"

#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "nosharing/core/error.h"
#include "nosharing/models/model.h"
#include "nosharing/models/mapformer.h"

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
  if (const auto* mapformer = dynamic_cast<const MapformerImpl*>(&model)) {
    // The Mapformer's column linear layers, over their columns: the embedding (shared: one
    // Linear, kMaxWeightSnr) and every block's MLP.
    out.emplace_back("embed", mapformer->options().shared_embedding()
                                  ? WeightSnr{kMaxWeightSnr, kMaxWeightSnr}
                                  : weight_snr(mapformer->column_embedding()->weight));
    for (size_t k = 0; k < mapformer->blocks().size(); ++k) {
      const ColumnMlp& mlp = mapformer->blocks()[k]->mlp;
      out.emplace_back(fmt::format("block{}.mlp.fc1", k + 1), weight_snr(mlp->fc1->weight));
      out.emplace_back(fmt::format("block{}.mlp.fc2", k + 1), weight_snr(mlp->fc2->weight));
    }
    return out;
  }
  for (const auto& [name, layer] : model.unshared_layers()) {
    out.emplace_back(name, weight_snr(layer->weight));
  }
  for (const auto& [name, conv] : model.conv_layers()) {
    out.emplace_back(name, WeightSnr{kMaxWeightSnr, kMaxWeightSnr});
  }
  return out;
}

}  // namespace nosharing
