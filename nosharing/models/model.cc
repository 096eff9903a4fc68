#include "nosharing/models/model.h"

#include "nosharing/core/error.h"

namespace nosharing {

ModelObjective ModelImpl::own_objective(const torch::Tensor& images) {
  throw_runtime("{}: this model is trained with labels and has no objective of its own", name());
}

TopographicLayer ModelImpl::topographic_layer(size_t index, bool with_responses) const {
  throw_runtime("{}: no topographic layer {} (the model has {})", name(), index,
                topographic_layer_count());
}

std::vector<std::pair<std::string, torch::Tensor>> ModelImpl::weight_snr_layers() const {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& [name, layer] : unshared_layers()) out.emplace_back(name, layer->weight);
  for (const auto& [name, conv] : conv_layers()) out.emplace_back(name, torch::Tensor());
  return out;
}

}  // namespace nosharing
