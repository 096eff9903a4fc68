#include "nosharing/train/objective.h"

#include <torch/nn/functional/loss.h>

namespace nosharing {

ModelObjective batch_objective(ModelImpl& model, const Batch& batch, double label_smoothing) {
  if (model.has_own_objective()) return model.own_objective(batch.images);
  const torch::Tensor logits = model.forward(batch.images);
  ModelObjective objective;
  objective.task = torch::nn::functional::cross_entropy(
      logits, batch.labels,
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(label_smoothing));
  objective.total = objective.task;
  for (AuxiliaryLoss& aux : model.auxiliary_losses()) {
    objective.total = objective.total + aux.weight * aux.value;
    objective.terms.emplace_back("aux/" + aux.name, std::move(aux.value));
  }
  return objective;
}

}  // namespace nosharing
