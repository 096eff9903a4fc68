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
  return objective;
}

}  // namespace nosharing
