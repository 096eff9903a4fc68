#include "nosharing/train/evaluate.h"

#include <torch/nn/functional/loss.h>

namespace nosharing {

EvalResult evaluate(ModelImpl& model, BatchLoader& loader) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  double loss_sum = 0;
  int64_t correct = 0;
  int64_t n = 0;
  loader.start_epoch(0);
  if (model.has_own_objective()) {
    while (auto batch = loader.next()) {
      const int64_t b = batch->images.size(0);
      loss_sum += model.own_objective(batch->images).total.item<double>() * static_cast<double>(b);
      n += b;
    }
    model.train(was_training);
    EvalResult result;
    result.has_accuracy = false;
    result.n = n;
    if (n > 0) result.loss = loss_sum / static_cast<double>(n);
    return result;
  }
  while (auto batch = loader.next()) {
    const torch::Tensor logits = model.forward(batch->images);
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, batch->labels,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    correct += logits.argmax(1).eq(batch->labels).sum().item<int64_t>();
    n += batch->labels.size(0);
  }
  model.train(was_training);
  EvalResult result;
  result.n = n;
  if (n > 0) {
    result.loss = loss_sum / static_cast<double>(n);
    result.accuracy = static_cast<double>(correct) / static_cast<double>(n);
  }
  return result;
}

}  // namespace nosharing
