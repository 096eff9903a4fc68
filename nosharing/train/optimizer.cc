#include "nosharing/train/optimizer.h"

#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "nosharing/core/error.h"
#include "nosharing/train/fused_optimizer.h"

namespace nosharing {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const Config& config,
                                                        std::vector<torch::Tensor> parameters) {
  const std::string& kind = config.get_string("train.optimizer");
  const double lr = config.get_double("train.lr");
  const double momentum = config.get_double("train.momentum");
  const double weight_decay = config.get_double("train.weight_decay");
  if (!(lr > 0)) throw_usage("train.lr = {}: expected a positive number", lr);
  if (momentum < 0 || momentum >= 1) {
    throw_usage("train.momentum = {}: expected a number in [0, 1)", momentum);
  }
  if (weight_decay < 0) throw_usage("train.weight_decay = {}: expected ≥ 0", weight_decay);
  // One pass per parameter (fused_optimizer.h), or LibTorch's own optimisers.
  const bool fused = config.get_bool("train.fused_optimizer");
  if (kind == "sgd") {
    const bool nesterov = config.get_bool("train.nesterov") && momentum > 0;
    const auto options =
        torch::optim::SGDOptions(lr).momentum(momentum).nesterov(nesterov).weight_decay(
            weight_decay);
    if (fused) return std::make_unique<FusedSGD>(std::move(parameters), options);
    return std::make_unique<torch::optim::SGD>(std::move(parameters), options);
  }
  const auto options =
      torch::optim::AdamWOptions(lr).betas({momentum, 0.999}).weight_decay(weight_decay);
  if (fused) return std::make_unique<FusedAdamW>(std::move(parameters), options);
  return std::make_unique<torch::optim::AdamW>(std::move(parameters), options);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

void clear_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups()) {
    for (auto& parameter : group.params()) parameter.mutable_grad() = torch::Tensor();
  }
}

}  // namespace nosharing
